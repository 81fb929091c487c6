"""The small pieces every dashboard is made of: one base panel, the panel kinds, queries, standards.

Dashboards modules hold one function per panel (title, description, unit and query); this module
holds what they share, so the look, the datasource and the thresholds are decided in one place.
Model: grafana-foundation-sdk `examples/python/red-method/src/` (common.py + one function a panel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from streams.contract.thresholds import THRESHOLDS

# One datasource for every panel, annotation and variable: the uid that
# grafana/provisioning/datasources/prometheus.yml provisions. A fixed uid (rather than a
# `${datasource}` variable) keeps alert `dashboard_url` links and annotations working without
# anyone picking a datasource first; another Prometheus is pointed at by provisioning that uid.
DATASOURCE_UID: Final = "surge-prometheus"
PROMETHEUS: Final = dashboard_models.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)

TAG: Final = "surge-monitor"
TIMEZONE: Final = "Europe/London"  # control rooms read the wall clock of England (DESIGN.md)

# Units (Grafana unit ids).
RATIO: Final = "percentunit"  # 0..1 shown as a percentage
SECONDS: Final = "s"
COUNT: Final = "short"
PER_MINUTE: Final = "cpm"  # counts per minute
PER_SECOND: Final = "cps"  # counts per second

# National standards (DESIGN.md, KPIs): the alert rules' thresholds, from their one source.
SERVICE_LEVEL_STANDARD: Final = THRESHOLDS.service_level_standard  # amber below
SERVICE_LEVEL_FLOOR: Final = THRESHOLDS.service_level_warning  # red below
ABANDONMENT_STANDARD: Final = THRESHOLDS.abandon_standard  # red at or above
ANSWER_TARGET_SECONDS: Final = 60.0  # a call waiting longer already counts against the standard
DEAD_LETTER_SHARE_MAX: Final = THRESHOLDS.dead_letter_ratio  # DeadLetterRateHigh
# Staffed / commissioned and staffed / required: StaffingBelowCommissioned (warning, critical)
# and StaffingBelowRequired (warning).
STAFFED_COMMISSIONED_WARNING: Final = THRESHOLDS.staffing_commissioned_warning_ratio
STAFFED_COMMISSIONED_CRITICAL: Final = THRESHOLDS.staffing_commissioned_critical_ratio
STAFFED_REQUIRED_WARNING: Final = THRESHOLDS.staffing_required_warning_ratio

RED: Final = "red"
AMBER: Final = "orange"
GREEN: Final = "green"
NEUTRAL: Final = "text"


class _PanelBuilder(Protocol):
    """What every grafana-foundation-sdk panel builder offers, whatever its visualisation."""

    def title(self, title: str) -> Self: ...
    def description(self, description: str) -> Self: ...
    def unit(self, unit: str) -> Self: ...
    def datasource(self, datasource: dashboard_models.DataSourceRef) -> Self: ...


P = TypeVar("P", bound=_PanelBuilder)


def base(panel: P, title: str, description: str, unit: str) -> P:
    """The base of every panel: title, description, unit and the surge Prometheus datasource."""
    return panel.title(title).description(description).unit(unit).datasource(PROMETHEUS)


def timeseries_panel(title: str, description: str, unit: str) -> timeseries.Panel:
    """A line chart, one line a series, legend below, tooltip listing all series worst first."""
    return (
        base(timeseries.Panel(), title, description, unit)
        .line_width(1)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .draw_style(common.GraphDrawStyle.LINE)
        .span_nulls(False)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )


def with_threshold_lines(
    panel: timeseries.Panel, thresholds: dashboard_builders.ThresholdsConfig
) -> timeseries.Panel:
    """Draw a standard as dashed lines on a chart (series keep their palette colours)."""
    return panel.thresholds(thresholds).thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED)
    )


def stacked(panel: timeseries.Panel) -> timeseries.Panel:
    """Stack a chart's series into areas that add up to a total (parts of a whole)."""
    return panel.fill_opacity(60).stacking(
        common_builders.StackingConfig().mode(common.StackingMode.NORMAL)
    )


def dashed_line() -> dashboard_models.DynamicConfigValue:
    """A series override drawing the line dashed: a plan or a baseline beside the measured."""
    return dashboard_models.DynamicConfigValue(
        id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
    )


def stat_panel(title: str, description: str, unit: str) -> stat.Panel:
    """One big number a series, its background coloured by the thresholds."""
    return (
        base(stat.Panel(), title, description, unit)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .text_mode(common.BigValueTextMode.AUTO)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def table_panel(title: str, description: str, unit: str) -> table.Panel:
    """A table of instant values; columns get their own unit and colours by overrides."""
    return base(table.Panel(), title, description, unit).cell_height(common.TableCellHeight.SM)


def heatmap_panel(title: str, description: str, unit: str, y_unit: str) -> heatmap.Panel:
    """A heatmap of pre-bucketed Prometheus histogram data (`format=heatmap`, no recalculation)."""
    return (
        base(heatmap.Panel(), title, description, unit)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit(y_unit))
        .cell_values(heatmap.CellValues().unit(unit))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_models.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .steps(64)
        )
        .show_value(common.VisibilityMode.NEVER)
        .show_tooltip()
    )


def query(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    """A range query drawn over time; `legend` is a Grafana legend template (`{{region}}`)."""
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).range()


def instant_table_query(expr: str, ref_id: str) -> prometheus.Dataquery:
    """An instant query in table format, one row a series (for tables of the current state)."""
    return prometheus.Dataquery().expr(expr).ref_id(ref_id).instant().format(PromQueryFormat.TABLE)


def heatmap_query(expr: str, ref_id: str = "A") -> prometheus.Dataquery:
    """A histogram's buckets in heatmap format: one row a `le` bound."""
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format("{{le}}")
        .ref_id(ref_id)
        .range()
        .format(PromQueryFormat.HEATMAP)
    )


def steps(*levels: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds from (value, colour) pairs; the first value is None (the base)."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_models.Threshold(value=value, color=color) for value, color in levels])
    )


def service_level_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Red below the ServiceLevelBelowStandard warning (85 %), amber below the 95 % standard."""
    return steps((None, RED), (SERVICE_LEVEL_FLOOR, AMBER), (SERVICE_LEVEL_STANDARD, GREEN))


def abandonment_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Green under the 5 % standard, red at or above it."""
    return steps((None, GREEN), (ABANDONMENT_STANDARD, RED))


def longest_wait_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Amber once the oldest waiting call has waited past the 60 s answer target."""
    return steps((None, GREEN), (ANSWER_TARGET_SECONDS, AMBER))


def staffed_commissioned_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Red below StaffingBelowCommissioned's critical share, amber below its warning share."""
    return steps(
        (None, RED), (STAFFED_COMMISSIONED_CRITICAL, AMBER), (STAFFED_COMMISSIONED_WARNING, GREEN)
    )


def staffed_required_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Amber below StaffingBelowRequired's share (a warning; it has no critical)."""
    return steps((None, AMBER), (STAFFED_REQUIRED_WARNING, GREEN))


def neutral_thresholds() -> dashboard_builders.ThresholdsConfig:
    """No standard: one neutral colour."""
    return steps((None, NEUTRAL))


def region_link() -> dashboard_models.DynamicConfigValue:
    """A table cell override: the region code opens the region dashboard, same time range."""
    url = "/d/surge-region/region?var-region=${__value.raw}&${__url_time_range}"
    return dashboard_models.DynamicConfigValue(
        id_val="links", value=[{"title": "Open the region dashboard", "url": url}]
    )


def up_down_mappings() -> list[dashboard_models.ValueMapping]:
    """Show Prometheus `up` as words: 1 UP in green, 0 DOWN in red."""
    return [
        dashboard_models.ValueMap(
            options={
                "0": dashboard_models.ValueMappingResult(text="DOWN", color=RED, index=0),
                "1": dashboard_models.ValueMappingResult(text="UP", color=GREEN, index=1),
            }
        )
    ]


def column(
    name: str, unit: str, thresholds: dashboard_builders.ThresholdsConfig | None = None
) -> tuple[str, list[dashboard_models.DynamicConfigValue]]:
    """A table column's overrides: its unit and, with thresholds, a cell coloured by them."""
    properties = [dashboard_models.DynamicConfigValue(id_val="unit", value=unit)]
    if thresholds is not None:
        properties += [
            dashboard_models.DynamicConfigValue(id_val="thresholds", value=thresholds.build()),
            dashboard_models.DynamicConfigValue(
                id_val="custom.cellOptions", value={"type": "color-background"}
            ),
        ]
    return name, properties


def merge_and_name(
    columns: dict[str, str], hidden: tuple[str, ...] = ("Time",)
) -> list[dashboard_models.DataTransformerConfig]:
    """Join instant table queries on their labels; order, name and hide columns.

    `columns` maps Grafana's field names (a label, `Value #A` for query A when merged, `Value`
    for a single query) to column titles, in display order; `hidden` fields are dropped.
    """
    return [
        dashboard_models.DataTransformerConfig(id_val="merge", options={}),
        dashboard_models.DataTransformerConfig(
            id_val="organize",
            options={
                "excludeByName": dict.fromkeys(hidden, True),
                "indexByName": {field: index for index, field in enumerate(columns)},
                "renameByName": columns,
            },
        ),
    ]


class _PrometheusAnnotationQuery(dashboard_models.AnnotationQuery):
    """The SDK's AnnotationQuery lacks the Prometheus fields that make annotations readable."""

    def __init__(
        self, *, name: str, expr: str, icon_color: str, title_format: str, tag_keys: str, step: str
    ) -> None:
        super().__init__(
            name=name,
            datasource=PROMETHEUS,
            enable=True,
            hide=False,
            icon_color=icon_color,
            expr=expr,
        )
        self.title_format = title_format
        self.tag_keys = tag_keys
        self.step = step

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update(
            titleFormat=self.title_format,
            tagKeys=self.tag_keys,
            step=self.step,
            useValueForTime=False,
        )
        return payload


@dataclass(frozen=True)
class PrometheusAnnotation(cogbuilder.Builder[dashboard_models.AnnotationQuery]):
    """A Prometheus annotation: each run of non-empty samples of `expr` becomes a region."""

    name: str
    expr: str
    title_format: str
    tag_keys: str
    color: str
    step: str = "60s"

    def build(self) -> dashboard_models.AnnotationQuery:
        return _PrometheusAnnotationQuery(
            name=self.name,
            expr=self.expr,
            icon_color=self.color,
            title_format=self.title_format,
            tag_keys=self.tag_keys,
            step=self.step,
        )


def surge_links() -> dashboard_builders.DashboardLink:
    """A drop-down of the other surge-monitor dashboards, keeping time range and region."""
    return (
        dashboard_builders.DashboardLink("Surge monitor")
        .type(dashboard_models.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .keep_time(True)
        .include_vars(True)
        .target_blank(False)
    )


def finish(builder: dashboard_builders.Dashboard) -> dashboard_models.Dashboard:
    """Build the dashboard and number its panels 1.. in layout order (ids must be unique)."""
    model = builder.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return model
