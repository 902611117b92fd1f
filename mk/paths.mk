# rt-image-kit: paths in make. make splits words at blanks, so a path with a
# blank cannot be a target or a word of a list; and a path in a shell
# command must be quoted, whatever it holds (quotes, $, commas).
#
#   $(call rtik_path,P)   P made absolute where that gives no blank, else P
#                         as given (relative to the directory make runs in:
#                         a checkout under a directory whose name has a
#                         blank works through relative paths)
#   $(call rtik_q,S)      S quoted for the shell where it needs to be (a
#                         blank, a quote, $, a glob...), else as it is
#   $(call rtik_blank,V)  V's name if its value holds a blank or a newline

rtik_empty :=
rtik_space := $(rtik_empty) $(rtik_empty)
define rtik_newline


endef
rtik_path = $(if $(findstring $(rtik_space),$(abspath $(1))),$(1),$(abspath $(1)))
rtik_lparen := (
rtik_rparen := )
rtik_shell_special := ' " $$ ` \ ; & | < > * ? [ ] { } \# ~ ! $(rtik_lparen) $(rtik_rparen) $(rtik_space)
rtik_q = $(if $(strip $(foreach c,$(rtik_shell_special),$(findstring $(c),$(1))))$(findstring $(rtik_space),$(1))$(findstring $(rtik_newline),$(1)),'$(subst ','\'',$(1))',$(if $(1),$(1),''))
rtik_blank = $(if $(or $(findstring $(rtik_space),$(strip $($(1)))),$(findstring $(rtik_newline),$($(1)))),$(1))
