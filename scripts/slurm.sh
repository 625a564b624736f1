#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests/jobs.rs and for trying array jobs
# by hand: munge + slurmctld + slurmd from Debian's slurm-wlm and munge (installed by
# scripts/setup.sh), configured for this host's CPUs and memory.
#
#   bash scripts/slurm.sh start    # idempotent: does nothing when the node is up
#   bash scripts/slurm.sh status   # sinfo
#   bash scripts/slurm.sh stop     # stops the daemons it started, by their pid files
#
# Needs root (the daemons run as root here; munged as the munge user). State, logs and
# pid files live under $TERRATILE_SLURM_DIR (default /tmp/terratile-slurm). KillWait is
# 5 s: scancel sends SIGTERM, then SIGKILL 5 s later.
set -euo pipefail

DIR="${TERRATILE_SLURM_DIR:-/tmp/terratile-slurm}"
CONF=/etc/slurm/slurm.conf

die() { echo "slurm.sh: error: $*" >&2; exit 1; }
say() { echo "slurm.sh: $*"; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_up() { sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'; }

start() {
  [[ $(id -u) -eq 0 ]] || die "needs root: the Slurm daemons run as root here (sudo bash scripts/slurm.sh start)"
  for p in munged slurmctld slurmd sbatch sinfo squeue scancel; do
    command -v "$p" >/dev/null 2>&1 || [[ -x "/usr/sbin/$p" ]] \
      || die "$p is missing: run scripts/setup.sh (apt-get install slurm-wlm munge)"
  done
  export PATH="/usr/sbin:$PATH"
  if node_up && alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
    say "the node is up"; sinfo; return 0
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(free -m | awk '/Mem/{print int($2*0.8)}')
  mkdir -p "$DIR"/{state,spool,log} /run/munge /var/log/munge /var/lib/munge /etc/munge /etc/slurm
  if [[ ! -f /etc/munge/munge.key ]]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 400 /etc/munge/munge.key
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid \
      || die "munged did not start (see /var/log/munge/munged.log)"
    cp /run/munge/munged.pid "$DIR/munged.pid"
  fi
  local want
  want=$(cat <<EOF
# written by terratile's scripts/slurm.sh
ClusterName=terratile
SlurmctldHost=$host
SlurmUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldLogFile=$DIR/log/ctld.log
SlurmdLogFile=$DIR/log/d.log
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
KillWait=5
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)
  if [[ ! -f "$CONF" ]] || [[ "$(cat "$CONF")" != "$want" ]]; then
    [[ -f "$CONF" ]] && ! grep -q "written by terratile" "$CONF" && cp "$CONF" "$CONF.before-terratile"
    printf '%s\n' "$want" > "$CONF"
  fi
  alive "$DIR/slurmctld.pid" || slurmctld || die "slurmctld did not start (see $DIR/log/ctld.log)"
  alive "$DIR/slurmd.pid" || slurmd || die "slurmd did not start (see $DIR/log/d.log)"
  for _ in $(seq 1 60); do
    if node_up; then say "the node is up"; sinfo; return 0; fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 0.5
  done
  die "the node did not come up in 30 s (sinfo: $(sinfo -h 2>&1 | tr '\n' ' '); logs in $DIR/log)"
}

stop() {
  for d in slurmd slurmctld munged; do
    if alive "$DIR/$d.pid"; then
      kill "$(cat "$DIR/$d.pid")" && say "stopped $d"
    fi
    rm -f "$DIR/$d.pid"
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) export PATH="/usr/sbin:$PATH"; sinfo ;;
  *) die "usage: bash scripts/slurm.sh start|stop|status" ;;
esac
