module example.org/breaker-service

go 1.24
