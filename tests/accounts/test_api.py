import pytest

pytestmark = pytest.mark.django_db


def test_register_returns_user_and_working_token(api_client):
    response = api_client.post(
        "/api/auth/register",
        {"username": "mei", "password": "s3cret-enough-pw", "display_name": "梅"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "username", "display_name", "token"}
    assert body["username"] == "mei" and body["display_name"] == "梅"

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    me = api_client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]
    assert me.json()["display_name"] == "梅"


def test_register_taken_username_is_400_in_error_shape(api_client, make_user):
    make_user("taken")
    response = api_client.post(
        "/api/auth/register", {"username": "TAKEN", "password": "s3cret-enough-pw"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "username_taken"
    assert "username" in body["fields"]
    assert body["message"]


def test_register_weak_password_is_400(api_client):
    response = api_client.post(
        "/api/auth/register", {"username": "weak", "password": "123"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "weak_password"
    assert "password" in response.json()["fields"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "x"},
        {"username": "", "password": ""},
        {"username": ["a"], "password": {"b": 1}},
        {"username": "a" * 500, "password": "s3cret-enough-pw"},
        {"username": "has space", "password": "s3cret-enough-pw"},
        {"username": None, "password": None},
    ],
)
def test_register_bad_input_is_400_never_500(api_client, payload):
    from redpacket.accounts.models import User

    before = User.objects.count()
    response = api_client.post("/api/auth/register", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and isinstance(body["message"], str)
    assert isinstance(body["fields"], dict)
    assert User.objects.count() == before


def test_register_malformed_json_is_400(api_client):
    response = api_client.post(
        "/api/auth/register", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_token_for_good_credentials(api_client, make_user):
    make_user("lin", password="pw-for-lin-77")
    response = api_client.post(
        "/api/auth/token", {"username": "lin", "password": "pw-for-lin-77"}, format="json"
    )
    assert response.status_code == 200
    assert len(response.json()["token"]) >= 20


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "lin", "password": "wrong"},
        {"username": "nobody", "password": "pw-for-lin-77"},
        {"username": "lin"},
        {},
        {"username": 5, "password": []},
    ],
)
def test_token_bad_credentials_is_400(api_client, make_user, payload):
    make_user("lin", password="pw-for-lin-77")
    response = api_client.post("/api/auth/token", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"bad_credentials", "invalid"}


def test_me_requires_authentication(api_client):
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "message": "请先登录"}


def test_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoked_token_stops_working_at_once(auth_client):
    from redpacket.accounts.services import tokens_revoke

    client = auth_client()
    assert client.get("/api/me").status_code == 200  # now cached
    tokens_revoke(user=client.user)
    assert client.get("/api/me").status_code == 401


def test_me_with_warm_cache_needs_no_sql(auth_client, django_assert_num_queries):
    client = auth_client()
    client.get("/api/me")
    with django_assert_num_queries(0):
        assert client.get("/api/me").status_code == 200


def test_session_auth_works_for_the_browser(client, make_user):
    user = make_user("sess")
    client.force_login(user)
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["username"] == "sess"


def test_schema_and_docs_are_served_offline(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/auth/register", "/api/auth/token", "/api/me"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
