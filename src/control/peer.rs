//! Who is on the other end of the control socket (`SO_PEERCRED`), and the one
//! rule about who may use it: root and the members of group `pistack`.

use std::ffi::{CStr, CString};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;

/// The group whose members may use the control socket.
pub const GROUP: &str = "pistack";

/// The process that connected, as the kernel saw it at `connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// The peer of a connected socket.
pub fn peer(stream: &UnixStream) -> std::io::Result<Peer> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes one `ucred` of `len` bytes into `cred`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Peer {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// The gid of group `name`, if it exists.
pub fn group_id(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: getgrnam_r fills `grp` with pointers into `buf`; only the gid is read.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut out: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        );
        (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
    }
}

/// The name of user `uid`, if it has one.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: getpwuid_r fills `pwd` with pointers into `buf`, read before it is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut out);
        if rc != 0 || out.is_null() {
            return None;
        }
        Some(CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
    }
}

/// Every group of user `uid` (its primary group `gid` and the supplementary
/// ones from the group database), as `getgrouplist(3)` says.
fn groups_of(uid: u32, gid: u32) -> Vec<u32> {
    let Some(name) = user_name(uid).and_then(|n| CString::new(n).ok()) else {
        return vec![gid];
    };
    let mut n: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; n as usize];
        // SAFETY: getgrouplist writes at most `n` gids and sets `n` to how many it has.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n.max(0) as usize);
            return groups;
        }
        if n > 65536 {
            return vec![gid];
        }
        n = n.max(64) * 2;
    }
}

/// The policy: may this peer use the control socket (as Root)? Root, and anyone
/// whose primary or supplementary groups include `pistack`.
pub fn allowed(peer: &Peer, pistack_gid: Option<u32>) -> bool {
    if peer.uid == 0 {
        return true;
    }
    match pistack_gid {
        Some(g) => peer.gid == g || groups_of(peer.uid, peer.gid).contains(&g),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_allowed_and_a_stranger_is_not() {
        let root = Peer {
            pid: 1,
            uid: 0,
            gid: 0,
        };
        assert!(allowed(&root, None));
        let nobody = Peer {
            pid: 1,
            uid: 65534,
            gid: 65534,
        };
        assert!(!allowed(&nobody, None));
        assert!(!allowed(&nobody, Some(123_456)));
        assert!(allowed(&nobody, Some(65534)), "the primary group counts");
    }

    #[test]
    fn the_peer_of_a_socketpair_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = peer(&a).unwrap();
        assert_eq!(p.pid as u32, std::process::id());
        // SAFETY: getuid cannot fail.
        assert_eq!(p.uid, unsafe { libc::getuid() });
    }
}
