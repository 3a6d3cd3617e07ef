//! How glibc's malloc, the function's allocator, keeps the memory of one delivery for the next.
//!
//! By default glibc gives every buffer over 128 KiB a mapping of its own and unmaps it when it is freed, and hands
//! the top of the heap back to the OS as soon as it is free: each large delivery then faults in and zeroes its
//! buffers afresh (about 2,400 page faults for a 3.5 MB body). With the thresholds below, glibc's defaults take
//! 1.13 to 1.17 times the CPU per delivery under load and 1.37 to 1.40 times for a delivery after an idle second, at
//! the two larger sizes; the process levels off near 43 MiB for 6 MB bodies (BENCHMARKS.md, sections 3 and 4).
//! mimalloc saved as much CPU, but kept 86 MiB resident for the same bodies, too close to the function's 128 MB.
//!
//! Lambda runs the function on Linux with glibc; elsewhere (a developer's Mac under `cargo lambda watch`) the
//! system allocator keeps its defaults.
#![cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]

/// Buffers up to this size come from the heap instead of a mapping of their own. 32 MiB (the highest glibc's own
/// sliding threshold would go) is above any buffer of a delivery: API Gateway passes at most 6 MB to a Lambda.
const MMAP_THRESHOLD: std::ffi::c_int = 32 << 20;

/// Free memory at the top of the heap goes back to the OS only beyond this much, so the heap a delivery grew is
/// there for the next one.
const TRIM_THRESHOLD: std::ffi::c_int = 64 << 20;

/// Sets both thresholds, unless the environment tunes malloc itself through `GLIBC_TUNABLES`. Call it first thing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory_for_the_next_delivery() {
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    // SAFETY: mallopt changes one tunable of malloc and is safe to call at any time; it returns 0 when it refuses.
    let applied = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    };
    debug_assert!(applied, "glibc accepts both thresholds");
}

/// Leaves the system allocator as it is: the thresholds above are glibc's.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory_for_the_next_delivery() {}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Page faults this thread has taken so far.
    fn page_faults() -> i64 {
        // SAFETY: getrusage only writes the struct it is given.
        unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
            usage.ru_minflt + usage.ru_majflt
        }
    }

    /// Page faults taken to allocate and fill one buffer of a large delivery's size, then free it.
    fn faults_for_one_buffer() -> i64 {
        let before = page_faults();
        let buffer = std::hint::black_box(vec![1u8; 8 << 20]);
        drop(buffer);
        page_faults() - before
    }

    #[test]
    fn a_freed_buffer_is_reused_without_faulting_its_pages_in_again() {
        keep_freed_memory_for_the_next_delivery();
        let first = faults_for_one_buffer();
        let again = faults_for_one_buffer();
        assert!(first > 1_000, "8 MiB of fresh pages fault in: {first}");
        assert!(again < 50, "the same memory is reused: {again} faults");
    }
}
