"""Run the expiry sweep now (beat runs it every minute): refund every packet past its TTL."""

from django.core.management.base import BaseCommand

from redpacket.packets.services import packets_expire_due


class Command(BaseCommand):
    help = "Expire packets past their TTL and refund what is left to their senders."

    def handle(self, *args, **options):
        total = 0
        while True:
            done = packets_expire_due()
            total += done
            if not done:
                break
        self.stdout.write(self.style.SUCCESS(f"Expired and refunded {total} packet(s)."))
