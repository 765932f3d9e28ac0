"""Run the campaign sweep now (beat runs it every minute): end every campaign past its end
time and refund its unspent budget to the sponsor; start the scheduled ones that are due."""

from django.core.management.base import BaseCommand

from shake.services import campaigns_end_due, campaigns_start_due


class Command(BaseCommand):
    help = "End shake campaigns past their end time (refunding the rest) and start due ones."

    def handle(self, *args, **options):
        started = campaigns_start_due()
        total = 0
        while True:
            done = campaigns_end_due()
            total += done
            if not done:
                break
        self.stdout.write(
            self.style.SUCCESS(f"Started {started}, ended and refunded {total} campaign(s).")
        )
