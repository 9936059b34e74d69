//! The secrets store: `init`, `add`, `show`, `list`, `rm`, `host` (issue 4; being written).
