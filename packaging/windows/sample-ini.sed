# packaging/outpost.ini (generated for Linux by `make docs`) made into the
# Windows sample the MSI installs as %ProgramData%\Outpost\outpost.ini.
1i\
# Windows: this file is %ProgramData%\\Outpost\\outpost.ini; the Outpost\
# service reads it. Its ACL lets only Administrators and SYSTEM read it\
# (docs/windows.md): keep it that way, the agent refuses a secret file\
# that other users can read.\
#
s|must be chmod 600|must be readable by Administrators and SYSTEM only|
s|(chmod 600)|(readable by Administrators and SYSTEM only)|
s|/var/lib/outpost|%ProgramData%\\Outpost\\state|
