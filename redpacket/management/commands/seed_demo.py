"""Idempotent demo data: users with known passwords, a staff user, and whatever each
capability adds (rooms, change, cards, packets, a shake campaign). Development only."""

from django.core.management.base import BaseCommand, CommandError

from redpacket import demo


class Command(BaseCommand):
    help = "Create (or top up to) the demo data set. Safe to run again."

    def handle(self, *args, **options):
        try:
            report = demo.seed()
        except demo.DemoRefused as refusal:
            raise CommandError(str(refusal)) from refusal
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write("  username     password         role")
        for username, password, role in report.logins:
            self.stdout.write(f"  {username:<12} {password:<16} {role}")
        for line in report.notes:
            self.stdout.write(f"  {line}")
