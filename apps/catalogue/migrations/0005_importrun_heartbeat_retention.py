# R-SEC-4 (issue 14 §8): an import run's heartbeat (a run left "running" by a dead worker is failed by the stale
# sweep) and the moment its kept file was deleted after the retention of failed runs. Written by hand so that it holds
# only these two fields.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalogue", "0004_import_audit"),
    ]

    operations = [
        migrations.AddField(
            model_name="importrun",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, help_text="处理中的导入定期更新；长时间没有心跳的视为已中断并标记为失败（R-SEC-4）",
                null=True, verbose_name="最近心跳"),
        ),
        migrations.AddField(
            model_name="importrun",
            name="file_purged_at",
            field=models.DateTimeField(
                blank=True, help_text="失败的导入文件保留期满后删除，导入记录保留（R-SEC-4）", null=True,
                verbose_name="原文件删除时间"),
        ),
    ]
