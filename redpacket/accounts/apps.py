from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "redpacket.accounts"
    label = "accounts"
    verbose_name = "用户"

    def ready(self) -> None:
        from redpacket.accounts.authentication import forget_token, forget_user
        from redpacket.accounts.models import ApiToken, User

        # Cache coherence only (no business logic): a saved user must not be served stale
        # from the authentication cache (password change, deactivation, new name).
        def _forget(sender, instance, **kwargs):
            forget_user(instance.pk)

        post_save.connect(_forget, sender=User, dispatch_uid="accounts.forget_user.save")
        post_delete.connect(_forget, sender=User, dispatch_uid="accounts.forget_user.delete")

        # A token deleted anywhere (sign-out, admin, a user's deletion) leaves the cache
        # at once, not when its cache entry would age out.
        def _forget_token(sender, instance, **kwargs):
            forget_token(instance.digest)

        post_delete.connect(
            _forget_token, sender=ApiToken, dispatch_uid="accounts.forget_token.delete"
        )
