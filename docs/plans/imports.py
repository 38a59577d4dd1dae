import ast, os, sys, collections
root='/work/main'
mods={}
for dp,dn,fn in os.walk(os.path.join(root,'a2d_edge')):
    for f in fn:
        if f.endswith('.py'):
            p=os.path.join(dp,f); rel=os.path.relpath(p,root)[:-3].replace('/','.')
            if rel.endswith('.__init__'): rel=rel[:-9]
            mods[rel]=p
def resolve(mod, node, ispkg):
    out=[]
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.name.startswith('a2d_edge'): out.append(a.name)
    else:
        if node.level:
            base=mod.split('.')
            if not ispkg: base=base[:-1]
            base=base[:len(base)-(node.level-1)]
            m='.'.join(base+([node.module] if node.module else []))
        else:
            m=node.module or ''
        if not m.startswith('a2d_edge'): return out
        for a in node.names:
            cand=m+'.'+a.name
            out.append(cand if cand in mods else m)
    return out
edges=[]  # (src,dst,kind,line)
for mod,p in mods.items():
    tree=ast.parse(open(p).read())
    ispkg=p.endswith('__init__.py')
    # function-level detection
    parents={}
    for n in ast.walk(tree):
        for c in ast.iter_child_nodes(n): parents[c]=n
    for n in ast.walk(tree):
        if isinstance(n,(ast.Import,ast.ImportFrom)):
            kind='top'; q=parents.get(n)
            while q is not None:
                if isinstance(q,(ast.FunctionDef,ast.AsyncFunctionDef)): kind='func'; break
                if isinstance(q,ast.If) and 'TYPE_CHECKING' in ast.unparse(q.test): kind='tc'; break
                q=parents.get(q)
            for d in resolve(mod,n,ispkg):
                while d not in mods and '.' in d: d=d.rsplit('.',1)[0]
                if d!=mod: edges.append((mod,d,kind,n.lineno))
def pkg(m):
    parts=m.split('.')
    return parts[1] if len(parts)>1 and (('a2d_edge.'+parts[1]) in mods and os.path.basename(mods['a2d_edge.'+parts[1]])=='__init__.py') else (parts[1] if len(parts)>1 else 'a2d_edge')
mode=sys.argv[1] if len(sys.argv)>1 else 'pkg'
if mode=='count':
    c=collections.Counter(k for _,_,k,_ in edges); print(c)
    fl=[e for e in edges if e[2]=='func']; print('func-level import statements(edges):',len(fl))
if mode=='pkg':
    g=collections.defaultdict(lambda: collections.Counter())
    for s,d,k,l in edges:
        ps,pd=pkg(s),pkg(d)
        if ps!=pd: g[ps][(pd,k)]+=1
    for ps in sorted(g):
        print(ps,'->',', '.join(f'{pd}{"" if k=="top" else "("+k+")"}:{n}' for (pd,k),n in sorted(g[ps].items())))
if mode in('modcycles','pkgcycles'):
    import itertools
    G=collections.defaultdict(set)
    for s,d,k,l in edges:
        if k=='tc' : continue
        if mode=='pkgcycles': s,d=pkg(s),pkg(d)
        if s!=d: G[s].add(d)
    # tarjan SCC
    idx={};low={};st=[];on=set();sccs=[];i=[0]
    sys.setrecursionlimit(10000)
    def sc(v):
        idx[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
        for w in G[v]:
            if w not in idx: sc(w); low[v]=min(low[v],low[w])
            elif w in on: low[v]=min(low[v],idx[w])
        if low[v]==idx[v]:
            comp=[]
            while True:
                w=st.pop();on.discard(w);comp.append(w)
                if w==v: break
            if len(comp)>1: sccs.append(comp)
    for v in list(G): 
        if v not in idx: sc(v)
    for c in sccs: print('SCC',sorted(c))
    # 2-cycles
    for a in sorted(G):
        for b in sorted(G[a]):
            if a<b and a in G[b]: print('2-cycle',a,'<->',b)
if mode=='edges':
    a,b=sys.argv[2],sys.argv[3]
    for s,d,k,l in sorted(edges):
        if pkg(s)==a and pkg(d)==b: print(f'{s}:{l} -> {d} [{k}]')
if mode=='modedges':
    a,b=sys.argv[2],sys.argv[3]
    for s,d,k,l in sorted(edges):
        if s==a and d==b: print(f'{s}:{l} -> {d} [{k}]')
if mode=='funclist':
    for s,d,k,l in sorted(edges):
        if k=='func': print(f'{mods[s][len(root)+1:]}:{l} -> {d}')
if mode=='funcstmts':
    s=set((a,l) for a,_,k,l in edges if k=='func'); print('a2d func-level import statements:',len(s))
    tot=0
    for mod,p in mods.items():
        tree=ast.parse(open(p).read())
        for f in ast.walk(tree):
            if isinstance(f,(ast.FunctionDef,ast.AsyncFunctionDef)):
                for n in f.body:
                    pass
        parents={}
        for n in ast.walk(tree):
            for c in ast.iter_child_nodes(n): parents[c]=n
        for n in ast.walk(tree):
            if isinstance(n,(ast.Import,ast.ImportFrom)):
                q=parents.get(n)
                while q is not None and not isinstance(q,(ast.FunctionDef,ast.AsyncFunctionDef)): q=parents.get(q)
                if q is not None: tot+=1
    print('all func-level import statements:',tot)
    c=collections.Counter(a for a,l in s); print(c.most_common(12))
if mode=='layers':
    L={'errors':0,'config':0,'applies':0,'zoo':0,'utils':0,'envs':1,'nets':1,'compile':1,'runtime':2,'sources':3,'rl':3,'hw':3,'export':4,'search':4,'distill':4,'experiments':5,'demo':6,'cli':6,'__main__':7,'a2d_edge':0}
    seen=set()
    for s,d,k,l in sorted(edges):
        ps,pd=pkg(s),pkg(d)
        if ps==pd or k=='tc': continue
        if L[pd]>=L[ps] and not (ps in('cli','demo','__main__') ):
            key=(s,l,d)
            if key in seen: continue
            seen.add(key)
            print(f'{mods[s][len(root)+1:]}:{l} -> {d} [{k}]  L{L[ps]}->L{L[pd]}')
