//! What the benchmarks share: the payloads, built like the provider's sample, at the three sizes BENCHMARKS.md
//! reports.

/// The payload sizes: label, VINs, records per VIN.
pub const SIZES: [(&str, usize, usize); 3] = [("1x2", 1, 2), ("10x50", 10, 50), ("50x100", 50, 100)];

/// A body built like the provider's sample: `vins` VINs with `records` records each (the same generator as
/// `run_benchmarks.py`'s, byte for byte).
pub fn payload(vins: usize, records: usize) -> String {
    let mut entries = Vec::with_capacity(vins);
    for v in 0..vins {
        let vin = format!("6AHFT68CKAF{v:06}");
        let mut list = Vec::with_capacity(records);
        for r in 0..records {
            let second = r % 60;
            let minute = (r / 60) % 60;
            list.push(format!(
                r#"{{"vin": "{vin}", "date_time": "2023-02-14 09:{minute:02}:{second:02}", "speed": {speed}.78, "latitude": 56.0{r:05}, "longitude": -177.689265, "heading": 357.92, "rpm": 3737.16, "odometer": 806942.06, "fuel_level": 79.79, "range": -75.68, "left_front_tire_pressure": 31.66, "right_front_tire_pressure": 31.95, "left_rear_tire_pressure": 31.17, "right_rear_tire_pressure": 31.88, "oil_level": 15.28, "engine_cooling_temperature": 11.4, "lv_battery_voltage": null, "hv_battery_voltage": 596.41, "hv_battery_soc": 38.48, "hv_battery_charging_status": "other", "seat_belt_status": "not buckled", "event": "charging plug status change", "flag": {{"lv_battery_voltage": {{"value": 35.44, "flag": "out of range"}}}}}}"#,
                speed = 100 + r % 100,
            ));
        }
        entries.push(format!("\"{vin}\": [{}]", list.join(", ")));
    }
    format!("{{{}}}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_sizes_benchmarks_md_reports() {
        let lengths: Vec<usize> = SIZES.iter().map(|(_, vins, records)| payload(*vins, *records).len()).collect();
        assert_eq!(lengths, [1_413, 347_730, 3_476_150]);
    }
}
