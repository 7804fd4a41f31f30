from datetime import UTC, datetime

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T09:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open attendance per person; the default QC checklist (PRODUCT.md, seed 003)"

# The delivery checks of seed 003, in the order a checker walks round the car.
DEFAULT_ITEMS = [
    ("Work done to standard", "作业符合标准"),
    ("Correct parts fitted", "零件安装正确"),
    ("Fasteners torqued to spec", "紧固件按规定扭矩拧紧"),
    ("Diagnosis confirmed fixed", "故障确认已排除"),
    ("Road test (where relevant)", "路试（如需要）"),
    ("No warning lights on the dash", "仪表无故障灯"),
    ("No grease marks inside or out", "车内外无油污"),
    ("Seat, wheel and floor covers removed", "三件套（座椅套、方向盘套、脚垫）已取下"),
    ("Ashtray clean", "烟灰缸已清洁"),
    ("Exterior washed", "车辆外部已清洗"),
    ("Work area clean", "工位已清洁"),
    ("Replaced parts kept for the customer", "旧件已保存交客户"),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    async def one_open_attendance():
        # Like clock_entry_one_open: a race can never leave one person clocked in twice.
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS attendance_one_open "
            "ON attendance (staff) WHERE clock_out_at IS NULL"
        )
        # SQLite cannot add a UNIQUE column, so the entry key's uniqueness is an index.
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS clock_entry_on_key ON clock_entry (on_key)"
        )

    async def default_checklist():
        engine = engine_finder()
        created = datetime.now(UTC).isoformat()
        await engine.run_ddl(
            "INSERT INTO qc_template (name, is_default, active, created_at) "
            f"VALUES ('Delivery check / 交车检查', true, true, '{created}')"
        )
        for position, (en, zh) in enumerate(DEFAULT_ITEMS, start=1):
            await engine.run_ddl(
                "INSERT INTO qc_template_item (template, position, name_en, name_zh, active) "
                f"SELECT id, {position}, '{en}', '{zh}', true FROM qc_template WHERE is_default = true"
            )

    async def events_for_existing_entries():
        # Entries are now derived from events: give entries written before that their events.
        engine = engine_finder()
        await engine.run_ddl(
            "INSERT INTO clock_event (key, technician, job, kind, at, reason, received_at, skewed, actor) "
            "SELECT 'legacy-on-' || id, technician, job, 'on', started_at, NULL, started_at, false, 'system' "
            "FROM clock_entry"
        )
        await engine.run_ddl(
            "INSERT INTO clock_event (key, technician, job, kind, at, reason, received_at, skewed, actor) "
            "SELECT 'legacy-off-' || id, technician, job, 'off', ended_at, reason, ended_at, false, 'system' "
            "FROM clock_entry WHERE ended_at IS NOT NULL"
        )
        await engine.run_ddl("UPDATE clock_entry SET on_key = 'legacy-on-' || id WHERE on_key IS NULL")

    manager.add_raw(events_for_existing_entries)
    manager.add_raw(one_open_attendance)
    manager.add_raw(default_checklist)
    return manager
