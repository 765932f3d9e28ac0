from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from redpacket.accounts import services
from redpacket.accounts.forms import LoginForm, RegisterForm
from redpacket.kernel.api import AuthThrottle
from redpacket.kernel.errors import DomainError
from redpacket.kernel.forms import add_domain_error


@require_http_methods(["GET", "POST"])
def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(**form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            login(request, user, backend="redpacket.accounts.authentication.CachedModelBackend")
            return redirect("chat:rooms")
    return render(request, "accounts/register.html", {"form": form})


class SignInView(LoginView):
    """The login page. Wrong passwords lock the account (django-axes, SPEC §7); the
    `auth` throttle limits attempts per client address, as on the API."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        throttle = AuthThrottle()
        # The API's throttle on a page: it reads the request alone, never the view.
        if not throttle.allow_request(request, self):  # type: ignore[arg-type]
            form = self.get_form_class()(request)
            context = self.get_context_data(form=form, locked=_("操作太频繁，请稍后再试"))
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)
