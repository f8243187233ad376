# bash completion for pistack (installed to /usr/share/bash-completion/completions/pistack)

_pistack_programs() {
    # Program names and GROUP:* from the daemon, quietly; nothing when it is unreachable.
    pistack ctl --json status 2>/dev/null | tr '{' '\n' |
        sed -n 's/.*"group":"\([^"]*\)".*"name":"\([^"]*\)".*/\1 \2/p' |
        while read -r group name; do
            echo "$name"
            [ "$group" != "$name" ] && echo "$group:*"
        done | sort -u
}

_pistack() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    }
    local i ctl=-1
    for ((i = 1; i < cword; i++)); do
        [ "${words[i]}" = ctl ] && { ctl=$i; break; }
    done
    case $prev in
        --config|-c|--socket|--ca) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --url|--token) return ;;
    esac
    if [ $ctl -lt 0 ]; then
        COMPREPLY=($(compgen -W "serve check-config passwd import-supervisord ctl --config --version --help" -- "$cur"))
        return
    fi
    local sub="" n=0
    for ((i = ctl + 1; i < cword; i++)); do
        case ${words[i]} in
            --json) ;;
            --socket|--url|--token|--ca) ((i++)) ;;
            *) [ -z "$sub" ] && sub=${words[i]}; ((n++)) ;;
        esac
    done
    case $sub in
        "") COMPREPLY=($(compgen -W "status start stop restart signal tail events gpio health users passwd reload help --json --socket --url --token --ca" -- "$cur")) ;;
        status|start|stop|restart) COMPREPLY=($(compgen -W "all $(_pistack_programs)" -- "$cur")) ;;
        signal) if [ $n -eq 1 ]; then COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM" -- "$cur"))
                else COMPREPLY=($(compgen -W "$(_pistack_programs)" -- "$cur")); fi ;;
        tail) COMPREPLY=($(compgen -W "-f --stderr $(_pistack_programs)" -- "$cur")) ;;
        events) COMPREPLY=($(compgen -W "-f" -- "$cur")) ;;
        gpio) [ $n -ge 2 ] && COMPREPLY=($(compgen -W "0 1 toggle pulse" -- "$cur")) ;;
    esac
}
complete -F _pistack pistack
