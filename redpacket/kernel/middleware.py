"""Pages raise the same domain errors as the API; this turns an uncaught one into a
proper page with its status (404 for NotFound), never a 500."""

from django.shortcuts import render

from redpacket.kernel.errors import DomainError


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return render(
                request, "error.html", {"title": str(exception.message)}, status=exception.status
            )
        return None
