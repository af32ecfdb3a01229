-- One failed login, counted atomically in the writer (concurrent guesses cannot overwrite each
-- other's count): $max_failed failures in a row lock the account until $locked_until. A lock in
-- force is kept as it is; after an expired lock the count starts again. SET reads the old values.
update users set
    failed_logins = case when locked_until is not null and locked_until <= $now then 1
                         else failed_logins + 1 end,
    locked_until = case when locked_until > $now then locked_until
                        when (case when locked_until is not null and locked_until <= $now then 1
                                   else failed_logins + 1 end) >= $max_failed then $locked_until
                        else null end
where name = $user_name
returning role, failed_logins, locked_until
