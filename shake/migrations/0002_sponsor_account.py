import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shake", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SponsorAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="标记时间")),
                ("marked_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="标记人")),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="sponsor_account", to=settings.AUTH_USER_MODEL, verbose_name="赞助方账户")),
            ],
            options={"verbose_name": "赞助方账户", "verbose_name_plural": "赞助方账户"},
        ),
    ]
