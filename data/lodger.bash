# bash completion for lodger (installed by meson into bash-completion's directory)
_lodger()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $prev in
	-kernel | -initrd | -readconfig | -D | -stats | -pidfile)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	-gdb)
		COMPREPLY=($(compgen -W 'tcp::1234 none' -- "$cur"))
		return
		;;
	-serial)
		COMPREPLY=($(compgen -W 'stdio mon:stdio file: null none' -- "$cur"))
		[[ ${COMPREPLY[0]} == file: ]] && compopt -o nospace
		return
		;;
	-machine | -M)
		COMPREPLY=($(compgen -W 'lodger mode=direct mode=shadow' -- "$cur"))
		return
		;;
	-accel)
		COMPREPLY=($(compgen -W 'kvm kvm,mode=direct kvm,mode=shadow' -- "$cur"))
		return
		;;
	-cpu)
		COMPREPLY=($(compgen -W 'host max' -- "$cur"))
		return
		;;
	-display)
		COMPREPLY=($(compgen -W 'none' -- "$cur"))
		return
		;;
	-device)
		COMPREPLY=($(compgen -W 'isa-debug-exit,iobase=0xf4,iosize=0x04' -- "$cur"))
		return
		;;
	-d)
		COMPREPLY=($(compgen -W "all help $(lodger -d help 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur"))
		return
		;;
	-append | -m | -smp | -name)
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-kernel -append -initrd -m -smp -serial -nographic
			-nodefaults -display -device -cpu -name -pidfile -daemonize -no-reboot
			-gdb -s -S
			-no-shutdown -machine -M -accel -enable-kvm -d -D -stats -readconfig
			--print-config -help -version' -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _lodger lodger
