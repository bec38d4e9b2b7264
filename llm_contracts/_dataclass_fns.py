"""The methods ``dataclasses`` writes for the package's dataclasses, compiled ahead of time.

Written by ``python -m llm_contracts._dataclass_write``; do not edit. ``_dataclass`` takes
a function from here when the standard decorator generates exactly its text.
"""
# ruff: noqa
# mypy: ignore-errors
# fmt: off

def _f0(_type_calls, _type_violations, _type_errors, _type_fixes_attempted, _type_fixes_succeeded, _type_latencies, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_calls, _dflt_violations, _dflt_errors, _dflt_fixes_attempted, _dflt_fixes_succeeded, _dflt_latencies, _return_type):
 def __init__(self,calls:_type_calls=_dflt_calls,violations:_type_violations=_dflt_violations,errors:_type_errors=_dflt_errors,fixes_attempted:_type_fixes_attempted=_dflt_fixes_attempted,fixes_succeeded:_type_fixes_succeeded=_dflt_fixes_succeeded,latencies:_type_latencies=_HAS_DEFAULT_FACTORY)->_return_type:
  self.calls=calls
  self.violations=violations
  self.errors=errors
  self.fixes_attempted=fixes_attempted
  self.fixes_succeeded=fixes_succeeded
  self.latencies=_dflt_latencies() if latencies is _HAS_DEFAULT_FACTORY else latencies
 return __init__

def _f1(_type_context_window, _type_max_output_tokens, _type_reasoning, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_reasoning, _return_type):
 def __init__(self,context_window:_type_context_window,max_output_tokens:_type_max_output_tokens,reasoning:_type_reasoning=_dflt_reasoning)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'context_window',context_window)
  __dataclass_builtins_object__.__setattr__(self,'max_output_tokens',max_output_tokens)
  __dataclass_builtins_object__.__setattr__(self,'reasoning',reasoning)
 return __init__

def _f2(_type_drop, _type_texts, _type_rewrite, _type_roles, _type_params, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_drop, _dflt_texts, _dflt_rewrite, _dflt_roles, _dflt_params, _return_type):
 def __init__(self,drop:_type_drop=_dflt_drop,texts:_type_texts=_HAS_DEFAULT_FACTORY,rewrite:_type_rewrite=_dflt_rewrite,roles:_type_roles=_dflt_roles,params:_type_params=_HAS_DEFAULT_FACTORY)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'drop',drop)
  __dataclass_builtins_object__.__setattr__(self,'texts',_dflt_texts() if texts is _HAS_DEFAULT_FACTORY else texts)
  __dataclass_builtins_object__.__setattr__(self,'rewrite',rewrite)
  __dataclass_builtins_object__.__setattr__(self,'roles',roles)
  __dataclass_builtins_object__.__setattr__(self,'params',_dflt_params() if params is _HAS_DEFAULT_FACTORY else params)
 return __init__

def _f3(_type_endpoint, _type_requests, _type_responses, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _return_type):
 def __init__(self,endpoint:_type_endpoint,requests:_type_requests,responses:_type_responses)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'endpoint',endpoint)
  __dataclass_builtins_object__.__setattr__(self,'requests',requests)
  __dataclass_builtins_object__.__setattr__(self,'responses',responses)
 return __init__

def _f4(_type_engine, _type_contract_retries, _type_retry_budget_tokens, _type_stream_policy, _type_listeners, _type_native_schema, _type_fallback, _type_exposures, _type_project_contracts, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_contract_retries, _dflt_retry_budget_tokens, _dflt_stream_policy, _dflt_listeners, _dflt_native_schema, _dflt_fallback, _dflt_exposures, _dflt_project_contracts, _return_type):
 def __init__(self,engine:_type_engine,contract_retries:_type_contract_retries=_dflt_contract_retries,retry_budget_tokens:_type_retry_budget_tokens=_dflt_retry_budget_tokens,stream_policy:_type_stream_policy=_HAS_DEFAULT_FACTORY,listeners:_type_listeners=_HAS_DEFAULT_FACTORY,native_schema:_type_native_schema=_dflt_native_schema,fallback:_type_fallback=_dflt_fallback,exposures:_type_exposures=_dflt_exposures,project_contracts:_type_project_contracts=_dflt_project_contracts)->_return_type:
  self.engine=engine
  self.contract_retries=contract_retries
  self.retry_budget_tokens=retry_budget_tokens
  self.stream_policy=_dflt_stream_policy() if stream_policy is _HAS_DEFAULT_FACTORY else stream_policy
  self.listeners=_dflt_listeners() if listeners is _HAS_DEFAULT_FACTORY else listeners
  self.native_schema=native_schema
  self.fallback=fallback
  self.exposures=exposures
  self.project_contracts=project_contracts
  self.__post_init__()
 return __init__

def _f5(_type_index, _type_text, _type_results, _type_usage, _type_latency_s, _type_feedback, _type_model, _type_choice_results, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_usage, _dflt_latency_s, _dflt_feedback, _dflt_model, _dflt_choice_results, _return_type):
 def __init__(self,index:_type_index,text:_type_text,results:_type_results,usage:_type_usage=_dflt_usage,latency_s:_type_latency_s=_dflt_latency_s,feedback:_type_feedback=_dflt_feedback,model:_type_model=_dflt_model,choice_results:_type_choice_results=_HAS_DEFAULT_FACTORY)->_return_type:
  self.index=index
  self.text=text
  self.results=results
  self.usage=usage
  self.latency_s=latency_s
  self.feedback=feedback
  self.model=model
  self.choice_results=_dflt_choice_results() if choice_results is _HAS_DEFAULT_FACTORY else choice_results
 return __init__

def _f6(_type_is_valid, _type_message, _type_severity, _type_contract_name, _type_details, _type_auto_fix_suggestion, _type_fixed_value, _type_error, _type_latency_s, _type_enforcement, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_message, _dflt_severity, _dflt_contract_name, _dflt_details, _dflt_auto_fix_suggestion, _dflt_fixed_value, _dflt_error, _dflt_latency_s, _dflt_enforcement, _return_type):
 def __init__(self,is_valid:_type_is_valid,message:_type_message=_dflt_message,severity:_type_severity=_dflt_severity,contract_name:_type_contract_name=_dflt_contract_name,details:_type_details=_HAS_DEFAULT_FACTORY,auto_fix_suggestion:_type_auto_fix_suggestion=_dflt_auto_fix_suggestion,fixed_value:_type_fixed_value=_dflt_fixed_value,error:_type_error=_dflt_error,latency_s:_type_latency_s=_dflt_latency_s,enforcement:_type_enforcement=_dflt_enforcement)->_return_type:
  self.is_valid=is_valid
  self.message=message
  self.severity=severity
  self.contract_name=contract_name
  self.details=_dflt_details() if details is _HAS_DEFAULT_FACTORY else details
  self.auto_fix_suggestion=auto_fix_suggestion
  self.fixed_value=fixed_value
  self.error=error
  self.latency_s=latency_s
  self.enforcement=enforcement
 return __init__

def _f7(_type_key, _type_group, _type_name, _type_arguments, _type_call_id, _type_done, _type_whole, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_group, _dflt_name, _dflt_arguments, _dflt_call_id, _dflt_done, _dflt_whole, _return_type):
 def __init__(self,key:_type_key,group:_type_group=_dflt_group,name:_type_name=_dflt_name,arguments:_type_arguments=_dflt_arguments,call_id:_type_call_id=_dflt_call_id,done:_type_done=_dflt_done,whole:_type_whole=_dflt_whole)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'key',key)
  __dataclass_builtins_object__.__setattr__(self,'group',group)
  __dataclass_builtins_object__.__setattr__(self,'name',name)
  __dataclass_builtins_object__.__setattr__(self,'arguments',arguments)
  __dataclass_builtins_object__.__setattr__(self,'call_id',call_id)
  __dataclass_builtins_object__.__setattr__(self,'done',done)
  __dataclass_builtins_object__.__setattr__(self,'whole',whole)
 return __init__

def _f8(_type_meaning, _type_low, _type_high, _type_reasoning_name, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_low, _dflt_high, _dflt_reasoning_name, _return_type):
 def __init__(self,meaning:_type_meaning,low:_type_low=_dflt_low,high:_type_high=_dflt_high,reasoning_name:_type_reasoning_name=_dflt_reasoning_name)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'meaning',meaning)
  __dataclass_builtins_object__.__setattr__(self,'low',low)
  __dataclass_builtins_object__.__setattr__(self,'high',high)
  __dataclass_builtins_object__.__setattr__(self,'reasoning_name',reasoning_name)
 return __init__

def _f9(_type_mode, _type_n_tokens, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_mode, _dflt_n_tokens, _return_type):
 def __init__(self,mode:_type_mode=_dflt_mode,n_tokens:_type_n_tokens=_dflt_n_tokens)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'mode',mode)
  __dataclass_builtins_object__.__setattr__(self,'n_tokens',n_tokens)
 return __init__

def _f10(_type_model, _type_messages, _type_params, _type_tools, _type_provider, _type_endpoint, _type_body, _type_chat, _type_view, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_params, _dflt_tools, _dflt_provider, _dflt_endpoint, _dflt_body, _dflt_chat, _dflt_view, _return_type):
 def __init__(self,model:_type_model,messages:_type_messages,params:_type_params=_HAS_DEFAULT_FACTORY,tools:_type_tools=_HAS_DEFAULT_FACTORY,provider:_type_provider=_dflt_provider,endpoint:_type_endpoint=_dflt_endpoint,body:_type_body=_HAS_DEFAULT_FACTORY,chat:_type_chat=_dflt_chat,view:_type_view=_dflt_view)->_return_type:
  self.model=model
  self.messages=messages
  self.params=_dflt_params() if params is _HAS_DEFAULT_FACTORY else params
  self.tools=_dflt_tools() if tools is _HAS_DEFAULT_FACTORY else tools
  self.provider=provider
  self.endpoint=endpoint
  self.body=_dflt_body() if body is _HAS_DEFAULT_FACTORY else body
  self.chat=chat
  self.view=view
 return __init__

def _f11(_type_name, _type_arguments, _type_id, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_id, _return_type):
 def __init__(self,name:_type_name,arguments:_type_arguments,id:_type_id=_dflt_id)->_return_type:
  self.name=name
  self.arguments=arguments
  self.id=id
 return __init__

def _f12(_type_name, _type_parameters, _type_strict, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_parameters, _dflt_strict, _return_type):
 def __init__(self,name:_type_name,parameters:_type_parameters=_dflt_parameters,strict:_type_strict=_dflt_strict)->_return_type:
  self.name=name
  self.parameters=parameters
  self.strict=strict
 return __init__

def _f13(_type_name, _type_routes, _type_clients, _type_models, _type_requires, _type_answers, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_routes, _dflt_clients, _dflt_models, _dflt_requires, _dflt_answers, _return_type):
 def __init__(self,name:_type_name,routes:_type_routes=_HAS_DEFAULT_FACTORY,clients:_type_clients=_HAS_DEFAULT_FACTORY,models:_type_models=_HAS_DEFAULT_FACTORY,requires:_type_requires=_dflt_requires,answers:_type_answers=_HAS_DEFAULT_FACTORY)->_return_type:
  __dataclass_builtins_object__.__setattr__(self,'name',name)
  __dataclass_builtins_object__.__setattr__(self,'routes',_dflt_routes() if routes is _HAS_DEFAULT_FACTORY else routes)
  __dataclass_builtins_object__.__setattr__(self,'clients',_dflt_clients() if clients is _HAS_DEFAULT_FACTORY else clients)
  __dataclass_builtins_object__.__setattr__(self,'models',_dflt_models() if models is _HAS_DEFAULT_FACTORY else models)
  __dataclass_builtins_object__.__setattr__(self,'requires',requires)
  __dataclass_builtins_object__.__setattr__(self,'answers',_dflt_answers() if answers is _HAS_DEFAULT_FACTORY else answers)
  self.__post_init__()
 return __init__

def _f14(_type_prompt_tokens, _type_completion_tokens, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_prompt_tokens, _dflt_completion_tokens, _return_type):
 def __init__(self,prompt_tokens:_type_prompt_tokens=_dflt_prompt_tokens,completion_tokens:_type_completion_tokens=_dflt_completion_tokens)->_return_type:
  self.prompt_tokens=prompt_tokens
  self.completion_tokens=completion_tokens
 return __init__

def _f15(_type_provider, _type_endpoint, _type_model, _type_input_results, _type_attempts, _type_stream_results, _type_total_usage, _type_outcome, _type_input_fixes, _type_stop_reason, _type_llm_latency_s, _type_validation_latency_s, _type_streamed, _type_hold_reason, _type_request, _type_started_ns, _type_exposures, _type_session_id, _type_turn, _type_project_contracts, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_provider, _dflt_endpoint, _dflt_model, _dflt_input_results, _dflt_attempts, _dflt_stream_results, _dflt_total_usage, _dflt_outcome, _dflt_input_fixes, _dflt_stop_reason, _dflt_llm_latency_s, _dflt_validation_latency_s, _dflt_streamed, _dflt_hold_reason, _dflt_request, _dflt_started_ns, _dflt_exposures, _dflt_session_id, _dflt_turn, _dflt_project_contracts, _return_type):
 def __init__(self,provider:_type_provider=_dflt_provider,endpoint:_type_endpoint=_dflt_endpoint,model:_type_model=_dflt_model,input_results:_type_input_results=_HAS_DEFAULT_FACTORY,attempts:_type_attempts=_HAS_DEFAULT_FACTORY,stream_results:_type_stream_results=_HAS_DEFAULT_FACTORY,total_usage:_type_total_usage=_HAS_DEFAULT_FACTORY,outcome:_type_outcome=_dflt_outcome,input_fixes:_type_input_fixes=_HAS_DEFAULT_FACTORY,stop_reason:_type_stop_reason=_dflt_stop_reason,llm_latency_s:_type_llm_latency_s=_dflt_llm_latency_s,validation_latency_s:_type_validation_latency_s=_dflt_validation_latency_s,streamed:_type_streamed=_dflt_streamed,hold_reason:_type_hold_reason=_dflt_hold_reason,request:_type_request=_dflt_request,started_ns:_type_started_ns=_HAS_DEFAULT_FACTORY,exposures:_type_exposures=_dflt_exposures,session_id:_type_session_id=_dflt_session_id,turn:_type_turn=_dflt_turn,project_contracts:_type_project_contracts=_dflt_project_contracts)->_return_type:
  self.provider=provider
  self.endpoint=endpoint
  self.model=model
  self.input_results=_dflt_input_results() if input_results is _HAS_DEFAULT_FACTORY else input_results
  self.attempts=_dflt_attempts() if attempts is _HAS_DEFAULT_FACTORY else attempts
  self.stream_results=_dflt_stream_results() if stream_results is _HAS_DEFAULT_FACTORY else stream_results
  self.total_usage=_dflt_total_usage() if total_usage is _HAS_DEFAULT_FACTORY else total_usage
  self.outcome=outcome
  self.input_fixes=_dflt_input_fixes() if input_fixes is _HAS_DEFAULT_FACTORY else input_fixes
  self.stop_reason=stop_reason
  self.llm_latency_s=llm_latency_s
  self.validation_latency_s=validation_latency_s
  self.streamed=streamed
  self.hold_reason=hold_reason
  self.request=request
  self.started_ns=_dflt_started_ns() if started_ns is _HAS_DEFAULT_FACTORY else started_ns
  self.exposures=exposures
  self.session_id=session_id
  self.turn=turn
  self.project_contracts=project_contracts
 return __init__

def _f16(_type_report, _type_ended_at, _type_materialise, _type_versions, _type_extra, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_versions, _dflt_extra, _return_type):
 def __init__(self,report:_type_report,ended_at:_type_ended_at,materialise:_type_materialise,versions:_type_versions=_HAS_DEFAULT_FACTORY,extra:_type_extra=_HAS_DEFAULT_FACTORY)->_return_type:
  self.report=report
  self.ended_at=ended_at
  self.materialise=materialise
  self.versions=_dflt_versions() if versions is _HAS_DEFAULT_FACTORY else versions
  self.extra=_dflt_extra() if extra is _HAS_DEFAULT_FACTORY else extra
 return __init__

def _f17(_type_request, _type_attempt, _type_elapsed_s, _type_conversation, _type_metadata, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_request, _dflt_attempt, _dflt_elapsed_s, _dflt_conversation, _dflt_metadata, _return_type):
 def __init__(self,request:_type_request=_dflt_request,attempt:_type_attempt=_dflt_attempt,elapsed_s:_type_elapsed_s=_dflt_elapsed_s,conversation:_type_conversation=_dflt_conversation,metadata:_type_metadata=_HAS_DEFAULT_FACTORY)->_return_type:
  self.request=request
  self.attempt=attempt
  self.elapsed_s=elapsed_s
  self.conversation=conversation
  self.metadata=_dflt_metadata() if metadata is _HAS_DEFAULT_FACTORY else metadata
 return __init__

def _f18(_type_role, _type_content, _type_name, _type_tool_call_id, _type_tool_calls, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_name, _dflt_tool_call_id, _dflt_tool_calls, _return_type):
 def __init__(self,role:_type_role,content:_type_content,name:_type_name=_dflt_name,tool_call_id:_type_tool_call_id=_dflt_tool_call_id,tool_calls:_type_tool_calls=_dflt_tool_calls)->_return_type:
  self.role=role
  self.content=content
  self.name=name
  self.tool_call_id=tool_call_id
  self.tool_calls=tool_calls
 return __init__

def _f19(_type_state, _type_failures, _type_opened_at, _type_probe_since, _type_skipped, _type_trips, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_state, _dflt_failures, _dflt_opened_at, _dflt_probe_since, _dflt_skipped, _dflt_trips, _return_type):
 def __init__(self,state:_type_state=_dflt_state,failures:_type_failures=_dflt_failures,opened_at:_type_opened_at=_dflt_opened_at,probe_since:_type_probe_since=_dflt_probe_since,skipped:_type_skipped=_dflt_skipped,trips:_type_trips=_dflt_trips)->_return_type:
  self.state=state
  self.failures=failures
  self.opened_at=opened_at
  self.probe_since=probe_since
  self.skipped=skipped
  self.trips=trips
 return __init__

def _f20(_type_text, _type_model, _type_tool_calls, _type_finish_reason, _type_refusal, _type_usage, _type_latency_s, _type_raw, MISSING, _HAS_DEFAULT_FACTORY, __dataclass_builtins_object__, _dflt_model, _dflt_tool_calls, _dflt_finish_reason, _dflt_refusal, _dflt_usage, _dflt_latency_s, _dflt_raw, _return_type):
 def __init__(self,text:_type_text,model:_type_model=_dflt_model,tool_calls:_type_tool_calls=_HAS_DEFAULT_FACTORY,finish_reason:_type_finish_reason=_dflt_finish_reason,refusal:_type_refusal=_dflt_refusal,usage:_type_usage=_dflt_usage,latency_s:_type_latency_s=_dflt_latency_s,raw:_type_raw=_dflt_raw)->_return_type:
  self.text=text
  self.model=model
  self.tool_calls=_dflt_tool_calls() if tool_calls is _HAS_DEFAULT_FACTORY else tool_calls
  self.finish_reason=finish_reason
  self.refusal=refusal
  self.usage=usage
  self.latency_s=latency_s
  self.raw=raw
 return __init__

def _f21(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('context_window','max_output_tokens','reasoning',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f22(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('drop','texts','rewrite','roles','params',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f23(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('endpoint','requests','responses',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f24(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('key','group','name','arguments','call_id','done','whole',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f25(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('meaning','low','high','reasoning_name',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f26(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('mode','n_tokens',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f27(cls, FrozenInstanceError):
 def __delattr__(self,name):
  if type(self) is cls or name in ('name','routes','clients','models','requires','answers',):
   raise FrozenInstanceError(f"cannot delete field {name!r}")
  super(cls, self).__delattr__(name)
 return __delattr__

def _f28(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('context_window','max_output_tokens','reasoning',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

def _f29(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('drop','texts','rewrite','roles','params',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

def _f30(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('endpoint','requests','responses',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

def _f31(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('key','group','name','arguments','call_id','done','whole',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

def _f32(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('meaning','low','high','reasoning_name',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

def _f33(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('mode','n_tokens',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

def _f34(cls, FrozenInstanceError):
 def __setattr__(self,name,value):
  if type(self) is cls or name in ('name','routes','clients','models','requires','answers',):
   raise FrozenInstanceError(f"cannot assign to field {name!r}")
  super(cls, self).__setattr__(name, value)
 return __setattr__

FUNCTIONS = {
    'eb8a5d9842aead4d3dcafbb6e5fc096db02dec80': _f0,
    'a98ab61f6fb56df57945b0c5bd474dbed36a240f': _f1,
    '7276154a93bfcabd90eaa52928aa6d3aebea53c6': _f2,
    '98f8e0046e92391bde649c798d31c129353cc98f': _f3,
    '4711b6b5befcfdbb47ff3809ba2b2ab059415865': _f4,
    '698c269327b952ff52cf9213ebe3c98de4434ac9': _f5,
    '53a23069eefceab947845e750b088779a32402f3': _f6,
    '28b19fe7917491f27f306fb4b09281950bb8ebdf': _f7,
    'f406f8b6493472c680714f04889f84948291880f': _f8,
    '3912768670a2e64c43e6e64931319865075c0ad1': _f9,
    '8953bfe7d24b97741ab00b7e857b56dc4de001b0': _f10,
    'd02f272a5288410780e98aef6ceb52482d7b387d': _f11,
    'ab0635fa6f956eabffea334438849646738aee21': _f12,
    'aacd84faec61c82c704806f4e2406e237c3ef704': _f13,
    '8986a13314d6a0fcb27b5f65e9736cb4848205d9': _f14,
    '3bb8a25245d3abcd72a02b5fe4d8c26019c95ad5': _f15,
    'a5917dc62b7046b879b05bd448b5d0d6ccb5228b': _f16,
    'f59a793f802668b7318a6c21cac0a04a6594a701': _f17,
    '538a18fa84720fea3325dfbc95017658a4e4824c': _f18,
    '92b1fafc695cad9e93de0a74ce30dad08cf130f7': _f19,
    '3e4d85ab3518f6312208b1e43b7f1e9522fc4df8': _f20,
    '092bdc123a61c441188f267a881ecd993e4b68de': _f21,
    '066fa61daf0a7ee208ebae7291db694cf2663118': _f22,
    '34a4f566e972300962d0a5a2cbfcdd28c11e002f': _f23,
    '44a64e13f065cafa1a3483e996ed86a3fa183906': _f24,
    '4a631d8b7ebfaaa89ab4b1d692cee40c24f2bf55': _f25,
    'b3948b98c1d1ef4c1edf4fce77514377f3a35497': _f26,
    '0f990cb04fe97d0f2f5fb13f6dec5304030f55cb': _f27,
    '1c1f278c568953016e77dd9ca9fe7b491e5abda9': _f28,
    '7c08e5bf980c51a676e8e923b74b5a817b5d7428': _f29,
    '3cf0066bbbc0ac984ca76a9cd359e3117c042473': _f30,
    '923ce561f82cd7c2a3e9da4c1e4e41b120c97f61': _f31,
    'c3906177ee9f80d72cfb24cce02727c4f96a4716': _f32,
    '658b97d593c03f2c265a768c53ca4153261f6930': _f33,
    '9cf6ea057357636d9973f30ac23455ac182e366a': _f34,
}
