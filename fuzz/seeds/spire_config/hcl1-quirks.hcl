NodeAttestor "join_token" { plugin_data {} }
M3 = [ { address = "x" env = "dev" }, ]
"a" "b" c { d = 0x1F, e = 017 }
