//! What `/proc` tells about processes, read without signalling anyone: a process's group, start
//! time, environment and working directory, and which processes hold a listening TCP socket.
//! The harness's other process checks (`cargo xtask down`'s leftover check) read `/proc`
//! through the public items here.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

/// One running process, as far as `/proc` shows it to us.
#[derive(Clone, Debug)]
pub(crate) struct ProcessInfo {
    pub(crate) pid: i32,
    pub(crate) pgrp: i32,
    /// `None` when it cannot be read (another user's process, or it just exited).
    pub(crate) cwd: Option<PathBuf>,
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses): `[0]` is the state (field 3 of proc(5)), `[2]` the process group (field 5),
/// `[19]` the start time (field 22).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The process group of `pid`, if it runs (a zombie has none left to signal).
pub(crate) fn pgrp(pid: i32) -> Option<i32> {
    let fields = stat_fields(pid)?;
    if fields.first().is_some_and(|s| s == "Z" || s == "X") {
        return None;
    }
    fields.get(2)?.parse().ok()
}

/// When `pid` started, in clock ticks since boot: with the pid, it names one process even after
/// the pid is reused.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// When `pid` started (as [`start_time`]), if it runs: `None` for a zombie or no process.
pub fn running_since(pid: i32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    if fields.first().is_some_and(|s| s == "Z" || s == "X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The pids under `/proc`.
pub fn pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok())).collect()
}

/// Whether the environment of `pid` holds exactly `entry` (`NAME=value`); `false` when it
/// cannot be read.
pub fn has_env(pid: i32, entry: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else { return false };
    environ.split(|&b| b == 0).any(|e| e == entry.as_bytes())
}

/// Every process that is not a zombie.
pub(crate) fn processes() -> Vec<ProcessInfo> {
    pids()
        .into_iter()
        .filter_map(|pid| {
            let pgrp = pgrp(pid)?;
            Some(ProcessInfo { pid, pgrp, cwd: fs::read_link(format!("/proc/{pid}/cwd")).ok() })
        })
        .collect()
}

/// Whether a process of group `pgid` holds a socket listening on TCP `port` (any address, IPv4
/// or IPv6). `None` when the socket tables cannot be read, so nothing can be said.
pub(crate) fn group_listens_on(pgid: i32, port: u16) -> Option<bool> {
    let listening = listening_inodes(port)?;
    if listening.is_empty() {
        return Some(false);
    }
    let owned = processes().into_iter().filter(|p| p.pgrp == pgid).any(|p| {
        let Ok(fds) = fs::read_dir(format!("/proc/{}/fd", p.pid)) else { return false };
        fds.flatten().any(|fd| {
            let target = fs::read_link(fd.path()).ok();
            let inode = target.as_ref().and_then(|t| t.to_str()).and_then(|t| t.strip_prefix("socket:["));
            inode
                .and_then(|i| i.strip_suffix(']'))
                .and_then(|i| i.parse::<u64>().ok())
                .is_some_and(|i| listening.contains(&i))
        })
    });
    Some(owned)
}

/// Set in the environment of every process the harness starts (and so inherited by theirs):
/// clean-up only ever kills processes that carry it, never, say, a user's shell that happens
/// to work in a scenario's directory.
pub const CHILD_MARKER: (&str, &str) = ("AMPFED_HARNESS_CHILD", "1");

/// Whether process `pid` carries the harness's child marker in its environment
/// ([`CHILD_MARKER`]); `false` when it cannot be read.
pub fn has_child_marker(pid: i32) -> bool {
    let (key, value) = CHILD_MARKER;
    has_env(pid, &format!("{key}={value}"))
}

/// The addresses that processes of group `pgid` listen on beyond the loopback range
/// (127.0.0.0/8, `::1`): empty for a well-behaved service. `None` when the tables cannot be
/// read.
pub(crate) fn group_listens_beyond_loopback(pgid: i32) -> Option<Vec<String>> {
    let owned: HashSet<u64> =
        processes().into_iter().filter(|p| p.pgrp == pgid).flat_map(|p| socket_inodes(p.pid)).collect();
    let mut exposed = Vec::new();
    let mut read_any = false;
    for (table, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = fs::read_to_string(table) else { continue };
        read_any = true;
        exposed.extend(exposed_listeners(&text, v6, &owned));
    }
    read_any.then_some(exposed)
}

/// The listening sockets of `owned` in one socket table (`/proc/net/tcp` or `tcp6` text) that
/// are bound beyond loopback, as `address port N`.
fn exposed_listeners(table: &str, v6: bool, owned: &HashSet<u64>) -> Vec<String> {
    let mut exposed = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(&"0A"), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
            continue;
        };
        if !inode.parse::<u64>().is_ok_and(|i| owned.contains(&i)) {
            continue;
        }
        let Some((address, port)) = local.split_once(':') else { continue };
        if !is_loopback(address, v6) {
            let port = u16::from_str_radix(port, 16).unwrap_or(0);
            exposed.push(format!("{} port {port}", describe(address, v6)));
        }
    }
    exposed
}

/// The socket inodes process `pid` holds open.
fn socket_inodes(pid: i32) -> Vec<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    fds.flatten()
        .filter_map(|fd| {
            let target = fs::read_link(fd.path()).ok()?;
            target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// An address as the kernel's socket tables write it: 32-bit words in host (little-endian)
/// order, IPv4 as 8 hex digits, IPv6 as 32.
fn address_bytes(hex: &str) -> Vec<u8> {
    let words: Vec<u32> =
        (0..hex.len() / 8).filter_map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()).collect();
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn is_loopback(hex: &str, v6: bool) -> bool {
    let b = address_bytes(hex);
    if !v6 {
        return b.first() == Some(&127);
    }
    let mapped_v4 = b.len() == 16 && b[..10].iter().all(|&x| x == 0) && b[10..12] == [0xff, 0xff];
    let v6_loopback = b.len() == 16 && b[..15].iter().all(|&x| x == 0) && b[15] == 1;
    v6_loopback || (mapped_v4 && b[12] == 127)
}

fn describe(hex: &str, v6: bool) -> String {
    let b = address_bytes(hex);
    if !v6 && b.len() == 4 {
        return std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string();
    }
    match <[u8; 16]>::try_from(b.as_slice()) {
        Ok(v6) => format!("[{}]", std::net::Ipv6Addr::from(v6)),
        Err(_) => hex.to_owned(),
    }
}

/// The inodes of the sockets listening on TCP `port`, from `/proc/net/tcp` and `tcp6`.
fn listening_inodes(port: u16) -> Option<HashSet<u64>> {
    const LISTEN: &str = "0A";
    let mut inodes = HashSet::new();
    let mut read_any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else { continue };
        read_any = true;
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == LISTEN && local_port == Some(port) {
                if let Ok(inode) = inode.parse() {
                    inodes.insert(inode);
                }
            }
        }
    }
    read_any.then_some(inodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_and_the_listener_it_holds() {
        let me = std::process::id() as i32;
        let group = pgrp(me).expect("this process's group");
        assert!(start_time(me).is_some());
        let found = processes().into_iter().find(|p| p.pid == me).expect("this process in the table");
        assert_eq!(found.pgrp, group);
        assert_eq!(found.cwd, std::env::current_dir().ok());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(group_listens_on(group, port), Some(true));
        assert_eq!(group_listens_beyond_loopback(group), Some(vec![]));
        drop(listener);
        assert_eq!(group_listens_on(group, port), Some(false));
    }

    #[test]
    fn listeners_beyond_loopback_are_found_to_refuse_their_service() {
        // Rows as the kernel writes them: a loopback listener (inode 11), one on every
        // interface (inode 12), an established connection on every interface (state 01) and
        // another group's wide listener (inode 99).
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1 0 100 0 0 10 0\n\
   1: 00000000:8F2D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1 0 100 0 0 10 0\n\
   2: 00000000:8F2E 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 13 1 0 100 0 0 10 0\n\
   3: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0 100 0 0 10 0\n";
        let owned: HashSet<u64> = [11, 12, 13].into();
        assert_eq!(exposed_listeners(tcp, false, &owned), ["0.0.0.0 port 36653"]);
        let tcp6 = "  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n\
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 11 1 0\n\
   1: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12 1 0\n";
        assert_eq!(exposed_listeners(tcp6, true, &owned), ["[::] port 8081"]);
    }

    #[test]
    fn reads_addresses_as_the_kernel_writes_them_to_refuse_wide_ones() {
        assert!(is_loopback("0100007F", false));
        assert!(!is_loopback("00000000", false));
        assert_eq!(describe("0100007F", false), "127.0.0.1");
        assert!(is_loopback("00000000000000000000000001000000", true));
        assert!(!is_loopback("00000000000000000000000000000000", true));
        assert!(is_loopback("0000000000000000FFFF00000100007F", true));
        assert_eq!(describe("00000000000000000000000000000000", true), "[::]");
    }
}
