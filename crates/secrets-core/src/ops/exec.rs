//! `exec-env`, `exec-file` (issue 3; being written).
