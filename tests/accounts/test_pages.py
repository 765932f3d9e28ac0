import pytest

pytestmark = pytest.mark.django_db


def test_register_page_creates_user_and_logs_in(client):
    from redpacket.accounts.models import User

    response = client.post(
        "/accounts/register/",
        {"username": "page-user", "display_name": "页", "password": "s3cret-enough-pw"},
    )
    assert response.status_code == 302
    assert User.objects.filter(username="page-user").exists()
    assert client.get("/chat/").status_code == 200


def test_register_page_shows_form_errors(client, make_user):
    make_user("dup")
    response = client.post("/accounts/register/", {"username": "dup", "password": "x"})
    assert response.status_code == 200
    assert "用户名已被占用" in response.content.decode()


def test_login_page_bad_password_shows_error(client, make_user):
    make_user("lg", password="right-password-9")
    response = client.post("/accounts/login/", {"username": "lg", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_pages_need_login(client):
    response = client.get("/chat/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_seed_demo_is_idempotent(db):
    from django.core.management import call_command

    from redpacket.accounts.models import User

    call_command("seed_demo")
    count = User.objects.count()
    call_command("seed_demo")
    assert User.objects.count() == count
    assert User.objects.filter(username="admin", is_staff=True).exists()
