# sops-nix declarations for this example, as `nsec add` printed them.
# Paths are relative to this directory (the one holding `secrets/`).
{
  sops.secrets.openai = { sopsFile = ./secrets/api-keys/openai.yaml; };
  sops.secrets.github = { sopsFile = ./secrets/api-keys/github.yaml; };
  sops.secrets.backup-ed25519 = { sopsFile = ./secrets/ssh-keys/backup-ed25519.yaml; };
  sops.secrets.wg-desktop = { sopsFile = ./secrets/ssh-keys/wg-desktop.yaml; };
  sops.secrets."postgres/user" = { sopsFile = ./secrets/api-keys/postgres.yaml; key = "user"; };
  sops.secrets."postgres/password" = { sopsFile = ./secrets/api-keys/postgres.yaml; key = "password"; };
  sops.secrets."postgres/host" = { sopsFile = ./secrets/api-keys/postgres.yaml; key = "host"; };
}
