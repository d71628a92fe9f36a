module oversync.local/gocanonical

go 1.22
