-- Service-hall services and their standard processing time (the city pack's optional
-- services.csv, mirrored like departments and categories): the basis of service_on_time_rate.
create table if not exists services (
    service_code       varchar primary key,
    name_zh            varchar,
    name_en            varchar,
    time_limit_minutes double
);
