module oversync.local/gojwt

go 1.22
