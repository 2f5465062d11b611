//! Names of backups: the object key / relative path of one instance's backup of one day.

/// The suffix of every backup object.
pub const SUFFIX: &str = ".tgz.des3";

/// `{date_str}/{port}/mysql-{port}-{host}-{instance_id}.tgz.des3`: date, port, host and
/// instance id, so same-day backups of different instances of a port group never collide.
pub fn backup_key(date_str: &str, port: u16, host: &str, instance_id: u32) -> String {
    format!("{date_str}/{port}/mysql-{port}-{host}-{instance_id}{SUFFIX}")
}

/// The prefix under which all backups of `port` on `date_str` live.
pub fn day_prefix(date_str: &str, port: u16) -> String {
    format!("{date_str}/{port}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_holds_date_port_host_instance() {
        assert_eq!(
            backup_key("2017_01_01", 3309, "db-7.example", 2),
            "2017_01_01/3309/mysql-3309-db-7.example-2.tgz.des3"
        );
        assert!(
            backup_key("2017_01_01", 3309, "h", 2).starts_with(&day_prefix("2017_01_01", 3309))
        );
        assert_ne!(backup_key("d", 1, "h", 1), backup_key("d", 1, "h", 2));
    }
}
