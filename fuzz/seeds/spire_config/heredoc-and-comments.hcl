a = <<-EOF
    x
    EOF
b = "${X}" // c
/* d */ e = [[1] [2]]
