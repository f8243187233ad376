//! The few system calls the GPIO code makes itself (gpio-cdev does the ioctls):
//! the monotonic clock the kernel stamps edges with, an eventfd to wake the
//! watcher, `poll(2)`, and non-blocking mode for event fds. Every `unsafe` of the
//! GPIO module lives here.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// CLOCK_MONOTONIC in nanoseconds: the clock of the kernel's edge timestamps
/// (since Linux 5.7), so that the two can be compared and subtracted.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// A counter the kernel can poll: `signal` makes it readable, `drain` resets it.
/// Used to wake the watcher (shutdown) and, in the sim backend, as the "event fd"
/// of a simulated line, so that simulated edges take the same `poll` path as real ones.
pub struct EventFd {
    file: File,
}

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall with constant flags; the result is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd(2), is open and owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd {
            file: File::from(owned),
        })
    }

    pub fn signal(&self) {
        // Only fails when the counter would overflow (2^64 - 2 signals): it is readable then anyway.
        let _ = (&self.file).write(&1u64.to_ne_bytes());
    }

    pub fn drain(&self) {
        let mut buf = [0u8; 8];
        // EAGAIN when nothing was signalled: fine.
        let _ = (&self.file).read(&mut buf);
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Put `fd` in non-blocking mode, so that a read after a spurious wake-up cannot
/// stall the watcher thread.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL on an fd we hold open; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_SETFL with an int argument on an fd we hold open.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct gpioline_info` of the v1 uAPI (linux/gpio.h).
#[repr(C)]
struct GpioLineInfo {
    line_offset: u32,
    flags: u32,
    name: [libc::c_char; 32],
    consumer: [libc::c_char; 32],
}

/// `GPIO_GET_LINEINFO_IOCTL` = `_IOWR(0xB4, 0x02, struct gpioline_info)`.
const GPIO_GET_LINEINFO_IOCTL: u32 =
    (3 << 30) | ((std::mem::size_of::<GpioLineInfo>() as u32) << 16) | (0xB4 << 8) | 0x02;

/// The raw v1 `GPIOLINE_FLAG_*` bits of a line. gpio-cdev 0.6 drops the bias bits
/// (5-7, Linux 5.5+), which `gpioinfo` shows and `/api/io/chips` should too.
pub fn line_flags(chip: &File, offset: u32) -> io::Result<u32> {
    let mut info = GpioLineInfo {
        line_offset: offset,
        flags: 0,
        name: [0; 32],
        consumer: [0; 32],
    };
    // SAFETY: the request code encodes the size of `info`, a valid, writable
    // gpioline_info that outlives the call; `chip` is an open GPIO chip device.
    let rc = unsafe {
        libc::ioctl(
            chip.as_raw_fd(),
            GPIO_GET_LINEINFO_IOCTL as _,
            &mut info as *mut GpioLineInfo,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info.flags)
}

/// What `poll` saw on one fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    No,
    Readable,
    /// POLLERR, POLLHUP or POLLNVAL: the fd will not deliver events any more.
    Broken,
}

/// Block until one of `fds` is readable or `timeout_ms` passes (`None`: forever).
/// EINTR counts as "nothing ready" (the caller loops).
pub fn poll(fds: &[RawFd], timeout_ms: Option<u64>) -> io::Result<Vec<Ready>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout = match timeout_ms {
        None => -1,
        Some(ms) => ms.min(i32::MAX as u64) as libc::c_int,
    };
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs that outlives the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![Ready::No; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds
        .iter()
        .map(|p| {
            if p.revents & libc::POLLIN != 0 {
                Ready::Readable
            } else if p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                Ready::Broken
            } else {
                Ready::No
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_wakes_poll_and_drains() {
        let e = EventFd::new().unwrap();
        let fd = e.as_raw_fd();
        assert_eq!(poll(&[fd], Some(0)).unwrap(), vec![Ready::No]);
        e.signal();
        e.signal();
        assert_eq!(poll(&[fd], Some(1000)).unwrap(), vec![Ready::Readable]);
        e.drain();
        assert_eq!(poll(&[fd], Some(0)).unwrap(), vec![Ready::No]);
    }

    #[test]
    fn lineinfo_ioctl_number_is_the_kernels() {
        assert_eq!(GPIO_GET_LINEINFO_IOCTL, 0xC048_B402);
    }

    #[test]
    fn monotonic_advances() {
        let a = monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(monotonic_ns() >= a + 2_000_000);
    }
}
