//! Signals without handlers: SIGTERM, SIGINT and SIGHUP are blocked in every thread
//! (the mask is set before any thread starts) and taken synchronously by
//! [`wait_for_shutdown`]. Children must not inherit that mask: [`reset_in_child`].

/// Block the shutdown signals in this thread and every thread spawned after.
pub fn block_shutdown_signals() {
    // SAFETY: sigset manipulation on a local set, then pthread_sigmask of this thread.
    unsafe {
        let set = shutdown_set();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn shutdown_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

/// Sleep until SIGTERM or SIGINT arrives; returns its number. Each SIGHUP
/// runs `on_hangup` (reloads) and the wait goes on.
pub fn wait_for_shutdown(mut on_hangup: impl FnMut()) -> i32 {
    let set = shutdown_set();
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: sigwait with a valid set and out-pointer.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc != 0 {
            continue;
        }
        if sig == libc::SIGHUP {
            on_hangup();
            continue;
        }
        return sig;
    }
}

/// For `pre_exec`: give a child the default signal mask and dispositions.
/// Only async-signal-safe calls, as `pre_exec` requires.
pub fn reset_in_child() {
    // SAFETY: sigprocmask/signal are async-signal-safe.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGPIPE,
            libc::SIGCHLD,
        ] {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}
