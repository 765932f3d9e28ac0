"""`makemessages` that also finds the pages' JavaScript strings: the scripts call
Django's catalog through a short alias, `t("…")` (RP.gettext), which xgettext does not
know as a keyword by itself."""

from django.core.management.commands.makemessages import Command as MakeMessagesCommand


class Command(MakeMessagesCommand):
    def handle(self, *args, **options):
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*self.xgettext_options, "--keyword=t"]
        return super().handle(*args, **options)
