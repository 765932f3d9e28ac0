from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def rooms(request):
    return render(request, "chat/rooms.html", {"rooms": []})
