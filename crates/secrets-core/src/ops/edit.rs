//! `edit`, `set`, `unset` (issue 3; being written).
