"""Pure, deterministic computations of surge-monitor: no Kafka, no Faust, no I/O, no clocks."""
