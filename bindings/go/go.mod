module mmgen.dev/mmgen

go 1.19
