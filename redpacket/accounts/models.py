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
