"""Error pages: API paths get API.md's JSON error shape, pages get a page."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "not_found", "message": _("不存在或无权查看")}, status=404)
    return render(request, "error.html", {"title": _("页面不存在")}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"code": "server_error", "message": _("服务繁忙，请稍后再试")}, status=500
        )
    return render(request, "error.html", {"title": _("服务繁忙，请稍后再试")}, status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "bad_request", "message": _("请求无效")}, status=400)
    return render(request, "error.html", {"title": _("请求无效")}, status=400)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "not_allowed", "message": _("无权进行此操作")}, status=403)
    return render(request, "error.html", {"title": _("无权进行此操作")}, status=403)
