# zsh zsh-capture.zsh ZSH 'COMMAND LINE'
#
# Runs an interactive ZSH (no rc files) in a pseudo-terminal, loads nsec's
# completion the way a user does (compinit, then `source <(nsec completion
# zsh)`), types COMMAND LINE and TAB, and prints the candidates zsh's
# completion system offered, one per line (tests/shell.rs).
zmodload zsh/zpty || exit 2
zpty z "$1" -f -i
zpty -w z 'PROMPT=; autoload -U compinit; compinit -u; source <(nsec completion zsh) || exit 3'
# Every compadd call prints what it adds; a post-function marks the end.
zpty -w z 'compadd() { local -a __hits; builtin compadd -O __hits "$@"; print -rl -- "${__hits[@]/#/${:-<}C>}"; builtin compadd "$@" }'
zpty -w z 'compprefuncs=( _nsec_capture_setup ); _nsec_capture_setup() { comppostfuncs=( _nsec_capture_done ) }'
zpty -w z '_nsec_capture_done() { print -r -- "${:-<}DONE>" }'
zpty -w -n z "$2"$'\t'
out=
integer n=0
while (( n++ < 300 )); do
  while zpty -r -t z line; do out+=$line; done
  [[ $out == *'<DONE>'* ]] && break
  sleep 0.1
done
zpty -d z
[[ $out == *'<DONE>'* ]] || { print -u2 -r -- "no completion within 30 s; the terminal showed: $out"; exit 1; }
print -r -- ${out//$'\r'/} | grep -ao '<C>.*' | sed 's/^<C>//' | sort -u
