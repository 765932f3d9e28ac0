from django.apps import AppConfig


class PacketsConfig(AppConfig):
    name = "redpacket.packets"
    # The label the app had at redpacket/: tables (redpacket_packet, …), migration history,
    # content types and permissions ("redpacket.expire_packet") stay as they were.
    label = "redpacket"
    verbose_name = "红包"

    def ready(self) -> None:
        # Registers the packet bubble decorator with chat's message hooks.
        from redpacket.packets import audit, selectors, services, tasks  # noqa: F401
        from wallet import crediting, notices, reconciliation
        from wallet.models import LedgerTransaction

        crediting.credit_source_register(services.CLAIMS)
        reconciliation.subject_register(
            name="packet", rows=audit.packet_ids, findings=audit.packet_findings_for
        )
        reconciliation.check_register(audit.credit_findings)
        reconciliation.check_register(audit.duplicate_claim_findings)
        notices.notice_link_register(
            kind=LedgerTransaction.Kind.CLAIM_CREDIT, resolve=selectors.claim_notice_links
        )
        notices.notice_link_register(
            kind=LedgerTransaction.Kind.PACKET_REFUND, resolve=selectors.refund_notice_links
        )
