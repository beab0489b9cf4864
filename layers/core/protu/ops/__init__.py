"""Operations: backups, restore tests, retention, data-protection rights (jobs and the operator CLI)."""
