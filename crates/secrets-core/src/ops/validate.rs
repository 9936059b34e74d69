//! `validate`, tree-wide `rotate`, `revoke` (issue 5; being written).
