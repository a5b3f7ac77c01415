# rollout's fact gathering: one POSIX sh script, one exec per host, no
# Python. It only reads, and prints sections ("@@name" on a line of its
# own, then the raw text of one source) that src/modules/setup/parser.rs
# turns into Ansible's facts on the controller. Every probe tolerates its
# source missing; the few commands it runs are chosen to be cheap.
LC_ALL=C
export LC_ALL
s() { printf '\n@@%s\n' "$1"; }
have() { command -v "$1" >/dev/null 2>&1; }
# Prints a file with the shell's own read (no process per file).
r() {
  [ -r "$1" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done < "$1"
}

s uname
uname -snrvm
# Python's socket.getfqdn(): the canonical name of the node name's address.
s fqdn
node=
read -r node 2>/dev/null < /proc/sys/kernel/hostname || node=$(uname -n)
addr=$(getent hosts "$node" 2>/dev/null)
set -- $addr
[ -n "$1" ] && getent hosts "$1" 2>/dev/null
s os_release
r /etc/os-release || r /usr/lib/os-release
s debian_version
r /etc/debian_version
s lsb_release
r /etc/lsb-release
s lsb_command
have lsb_release && echo yes
s machine_id
r /etc/machine-id || r /var/lib/dbus/machine-id
s cpuinfo
while IFS= read -r line; do
  case "$line" in
    processor*|vendor_id*|'model name'*|Processor*|cpu*|Vendor*|'physical id'*|'core id'*|siblings*|'# processors'*|'max thread id'*|'ncpus active'*)
      echo "$line" ;;
  esac
done 2>/dev/null < /proc/cpuinfo
# The shell's CPU affinity and ids (Cpus_allowed_list, Uid, Gid).
s status
while read -r k v; do
  case "$k" in Cpus_allowed_list:|Uid:|Gid:) echo "$k $v" ;; esac
done 2>/dev/null < /proc/self/status
s meminfo
while read -r k v; do case $k in MemTotal:|MemFree:|SwapTotal:|SwapFree:) echo "$k $v" ;; esac; done 2>/dev/null < /proc/meminfo
s mounts
r /etc/mtab || r /proc/mounts
s statfs
set --
while read -r dev mnt fstype rest; do
  case "$dev" in /*|\\*|*:/*) [ "$fstype" != none ] && set -- "$@" "$(printf '%b' "$mnt")" ;; esac
done 2>/dev/null < /proc/mounts
[ $# -gt 0 ] && stat -f -c '%n|%S|%s|%b|%f|%a|%c|%d' "$@" 2>/dev/null
s uuids
[ -d /dev/disk/by-uuid ] && ls -l /dev/disk/by-uuid 2>/dev/null
s user
uid=
while read -r k real rest; do [ "$k" = Uid: ] && uid=$real; done 2>/dev/null < /proc/self/status
[ -n "$uid" ] || uid=$(id -u)
found=
while IFS=: read -r name pw id rest; do
  [ "$id" = "$uid" ] && { echo "$name:$pw:$id:$rest"; found=1; break; }
done 2>/dev/null < /etc/passwd
[ -n "$found" ] || getent passwd "$uid" 2>/dev/null
s date
date '+%s %N %z %Z'
s init
comm=
read -r comm 2>/dev/null < /proc/1/comm
echo "$comm"
# /sbin/init's target matters only when PID 1's name tells nothing.
s init_link
case "$comm" in ''|init|*sh) [ -L /sbin/init ] && readlink /sbin/init ;; esac
s init_paths
for p in /run/systemd/system /dev/.run/systemd /dev/.systemd /etc/init /sbin/openrc /etc/init.d /etc/dinit.d; do
  [ -e "$p" ] && echo "$p"
done
have initctl && echo initctl
have systemctl && echo systemctl
s pkg_paths
for p in /usr/bin/rpm-ostree /usr/bin/yum /usr/bin/dnf-3 /usr/bin/dnf5 /usr/bin/apt-get /usr/bin/zypper \
  /usr/sbin/urpmi /usr/bin/pacman /bin/opkg /usr/pkg/bin/pkgin /opt/local/bin/pkgin /opt/tools/bin/pkgin \
  /opt/local/bin/port /usr/local/bin/brew /opt/homebrew/bin/brew /sbin/apk /usr/sbin/pkg /usr/sbin/swlist \
  /usr/bin/emerge /usr/sbin/pkgadd /usr/bin/pkg /usr/bin/xbps-install /usr/local/sbin/pkg /usr/bin/swupd \
  /usr/sbin/sorcery /usr/bin/installp /run/ostree-booted /usr/bin/dnf /usr/bin/microdnf; do
  [ -e "$p" ] && echo "$p"
done
s dnf_target
[ -e /usr/bin/dnf ] && readlink -f /usr/bin/dnf
s python
py=$(command -v python3 2>/dev/null || command -v python 2>/dev/null)
[ -n "$py" ] && { echo "$py"; readlink -f "$py"; }
s fips
r /proc/sys/crypto/fips_enabled
s virt_cgroup
while read -r line; do
  case "$line" in */docker/*|*/docker-*.scope|*/lxc/*|*machine-lxc*|*/system.slice/containerd.service*) echo "$line"; break ;; esac
done 2>/dev/null < /proc/1/cgroup
s virt_environ
[ -r /proc/1/environ ] && tr '\000' '\n' 2>/dev/null < /proc/1/environ | grep '^container='
s virt_systemd
r /run/systemd/container
s virt_files
for p in /.dockerenv /.dockerinit /run/.containerenv /proc/xen; do [ -e "$p" ] && echo "$p"; done
s virt_dmi
r /sys/class/dmi/id/product_name
r /sys/class/dmi/id/sys_vendor
s links
for d in /sys/class/net/*; do
  for f in address mtu operstate type flags; do
    v=
    read -r v 2>/dev/null < "$d/$f" && echo "$d/$f:$v"
  done
done
s addrs
have ip && ip -o addr show 2>/dev/null
s if_inet6
have ip || r /proc/net/if_inet6
s route4
if have ip; then ip -4 route get 8.8.8.8 2>/dev/null; else echo proc; r /proc/net/route; fi
s route6
have ip && ip -6 route get 2404:6800:400a:800::1012 2>/dev/null
s env
cat /proc/$$/environ 2>/dev/null || env
s end
