//! sops-nix declarations and git integration (issue 5; being written).
