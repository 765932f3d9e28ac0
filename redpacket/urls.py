from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from redpacket.accounts import views as account_views

api_patterns: list[URLPattern | URLResolver] = [
    path("", include("redpacket.accounts.api.urls")),
    path("", include("wallet.api.urls")),
    path("", include("chat.api.urls")),
    path("", include("redpacket.packets.api.urls")),
    path("", include("shake.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:rooms", permanent=False), name="home"),
    path("accounts/login/", account_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/register/", account_views.register, name="register"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("chat/", include("chat.urls")),
    path("wallet/", include("wallet.urls")),
    path("packets/", include("redpacket.packets.urls")),
    path("shake/", include("shake.urls")),
]

handler400 = "redpacket.kernel.views.bad_request"
handler403 = "redpacket.kernel.views.forbidden"
handler404 = "redpacket.kernel.views.not_found"
handler500 = "redpacket.kernel.views.server_error"
