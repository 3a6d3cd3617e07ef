//! Fuzzes the batch splitter: never panics, every partition line is one JSON object with a usable date under its
//! VIN and date, and what is not partitioned is counted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mobway_receiver::batch::SplitBatch;
use mobway_receiver::keys::Vin;

fuzz_target!(|body: &[u8]| {
    let split = SplitBatch::split(body);
    let mut partitioned = 0;
    for partition in &split.partitions {
        assert!(Vin::parse(partition.vin.as_str()).is_some());
        assert!(partition.lines.ends_with(b"\n"));
        let text = std::str::from_utf8(&partition.lines).expect("lines are UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), partition.records);
        for line in lines {
            assert!(line.starts_with('{') && line.ends_with('}'));
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        partitioned += partition.records;
    }
    if split.unpartitioned.unreadable_body {
        assert!(split.partitions.is_empty());
    } else {
        assert_eq!(partitioned + split.unpartitioned.records(), split.records);
    }
});
