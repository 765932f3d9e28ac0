import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models

# A small palette the avatars are drawn from (no uploaded images: the initial on a colour).
AVATAR_COLOURS = ("#f0932b", "#6ab04c", "#4834d4", "#eb4d4b", "#22a6b3", "#be2edd", "#e1b12c")


class User(AbstractUser):
    display_name = models.CharField("昵称", max_length=32)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def avatar_colour(self) -> str:
        digest = hashlib.blake2s(self.username.encode(), digest_size=2).digest()
        return AVATAR_COLOURS[int.from_bytes(digest, "big") % len(AVATAR_COLOURS)]

    @property
    def avatar_initial(self) -> str:
        return self.name[:1].upper()


class ApiToken(models.Model):
    """An API token (`Authorization: Token <key>`), SPEC §7.

    Only the key's SHA-256 digest is stored, so a copy of the database holds no usable
    token. A token expires (`API_TOKEN_TTL_SECONDS`), is deleted by sign-out, and is
    bound to the password it was issued under (`password_mark`, the user's session auth
    hash): a password change ends every token of the user at once.
    """

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    password_mark = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"
        indexes = [models.Index(fields=["user", "expires_at"], name="apitoken_user_expiry")]

    def __str__(self) -> str:
        return f"{self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
