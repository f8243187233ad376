//! Process-wide memory settings, made once before any thread starts.
//!
//! glibc gives each thread that allocates an arena of its own, and on 64-bit
//! each arena reserves 64 MiB of address space. With the daemon's workers and
//! pools, and a thread per open connection, that is hundreds of MiB of address
//! space and a fragmented heap: under `ulimit -v` at a Pi Zero's 512 MiB the
//! daemon aborted with "memory allocation failed" while 18 threads were idle.
//! Two arenas are plenty for threads that mostly wait. musl, the Pi Zero
//! build's libc, has a single heap and nothing to set.

/// Bound glibc's malloc arenas (see the module's doc).
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
