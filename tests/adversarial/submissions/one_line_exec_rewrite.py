@@STARTER@@
exec(compile(@@MODEL_ANSWER_LITERAL@@, __file__, "exec"))  # the planted file as given, plus a whole fixed file
