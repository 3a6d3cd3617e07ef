//! The function's allocator, mimalloc, and how long it keeps memory it has freed.

/// mimalloc keeps the megabyte buffers of a large delivery for the next one, where the system allocator hands them
/// back and faults them in again: 17% less CPU per request at 10x50 and 24% at 50x100 (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h: how many milliseconds freed memory stays mapped before it goes back to
/// the OS (1000 by default; -1 for never).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps the memory mimalloc frees mapped for the container's life, unless `MIMALLOC_PURGE_DELAY` says otherwise.
/// Deliveries often come more than a second apart, and then each one would fault in and zero its buffers afresh
/// (BENCHMARKS.md has what that costs). The peak (34 MiB for a 6 MB body) stays resident, well inside 128 MB.
pub fn keep_freed_memory_mapped() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option, which mimalloc reads at each purge; -1 is its documented "never".
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: reads one integer option.
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    #[test]
    fn freed_memory_stays_mapped_unless_the_environment_sets_a_purge_delay() {
        let from_environment = std::env::var("MIMALLOC_PURGE_DELAY").ok().and_then(|value| value.parse().ok());
        // mimalloc v3's default, or what the environment set: either way the constant names the purge delay.
        assert_eq!(purge_delay(), from_environment.unwrap_or(1000));
        keep_freed_memory_mapped();
        assert_eq!(purge_delay(), from_environment.unwrap_or(-1));
    }
}
